// AlexClaw admin UI: one module, no build step. Every value from the server is put in the page as text (never as
// HTML). State-changing calls carry the session's CSRF token in X-CSRF-Token.

let session = null;
const main = () => document.getElementById('main');

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

async function api(path, opts = {}) {
  const headers = { Accept: 'application/json' };
  const method = opts.method || 'GET';
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && session && session.csrf_token) headers['X-CSRF-Token'] = session.csrf_token;
  const res = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
  });
  if (res.status === 401) { location.assign('/login'); throw new Error('signed out'); }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = new Error(data.error || `${res.status} ${res.statusText}`);
    e.data = data;
    throw e;
  }
  return data;
}

// A message stays on the page until the next one, also across the re-render that usually follows an action.
let flash = null;

function showFlash() {
  const old = document.querySelector('main > .msg');
  if (old) old.remove();
  if (flash) main().prepend(h('p', { class: `msg ${flash.kind}`, role: flash.kind === 'error' ? 'alert' : 'status' }, flash.text));
}

function message(text, kind = 'ok') {
  flash = { text, kind };
  showFlash();
}

function fail(e) { message(e.message, 'error'); }

function table(headers, rows) {
  return h('div', { class: 'scroll' }, h('table', {},
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', {}, t)))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, 'Nothing yet.')))));
}

function status(s) { return h('span', { class: `status-${s}` }, s); }

function duration(seconds) {
  const d = Math.floor(seconds / 86400), hh = Math.floor(seconds % 86400 / 3600), m = Math.floor(seconds % 3600 / 60);
  return d ? `${d}d ${hh}h` : hh ? `${hh}h ${m}m` : `${m}m ${seconds % 60}s`;
}

function mib(bytes) { return `${(bytes / 1048576).toFixed(1)} MiB`; }

function link(href, text) {
  return h('a', { href, onclick: (ev) => { ev.preventDefault(); go(href); } }, text);
}

// --- pages ---

async function dashboard() {
  const s = await api('/api/status');
  const cards = [['Node', s.node], ['Version', s.version], ['Uptime', duration(s.system.uptime_seconds)],
    ['Memory', mib(s.system.memory_bytes)], ['Database', s.db],
    ['Executor', `${s.system.executor.running} running, ${s.system.executor.queued} queued`]];
  const breakers = Object.entries(s.circuit_breakers).map(([skill, b]) =>
    h('tr', {}, h('td', {}, skill), h('td', {}, h('span', { class: `state-${b.state}` }, b.state)),
      h('td', {}, b.failure_count), h('td', {}, b.last_error)));
  return [h('h1', {}, 'Dashboard'),
    h('div', { class: 'cards' }, cards.map(([k, v]) => h('div', { class: 'card' }, h('div', { class: 'k' }, k), h('div', { class: 'v' }, v)))),
    h('h2', {}, 'Recent runs'),
    table(['Run', 'Workflow', 'Status', 'Started (UTC)', 'Node', 'Error'], s.recent_runs.map((r) =>
      h('tr', {}, h('td', {}, link(`/runs?id=${r.id}`, `#${r.id}`)), h('td', {}, r.workflow ?? '(deleted)'),
        h('td', {}, status(r.status)), h('td', {}, r.started_at), h('td', {}, r.node), h('td', {}, r.error ?? '')))),
    h('h2', {}, 'Circuit breakers'),
    table(['Skill', 'State', 'Failures', 'Last error'], breakers)];
}

async function workflows() {
  const { workflows: list } = await api('/api/workflows');
  const act = async (fn, ok) => { try { await fn(); message(ok); render(); } catch (e) { fail(e); } };
  const rows = list.map((w) => h('tr', {},
    h('td', {}, h('strong', {}, w.name), w.description ? h('div', { class: 'muted' }, w.description) : null),
    h('td', {}, w.enabled ? 'yes' : 'no'), h('td', {}, w.schedule ?? ''), h('td', {}, w.steps),
    h('td', {}, w.requires_2fa ? 'yes' : ''), h('td', {}, w.node ?? ''),
    h('td', { class: 'actions' },
      h('button', { type: 'button', 'data-action': 'run', 'data-name': w.name, onclick: () => act(async () => {
        const r = await api(`/api/workflows/${encodeURIComponent(w.name)}/run`, { method: 'POST' });
        go(`/runs?id=${r.run_id}`);
      }, 'Started') }, 'Run now'),
      h('button', { type: 'button', onclick: () => act(() => api(`/api/workflows/${encodeURIComponent(w.name)}/${w.enabled ? 'disable' : 'enable'}`, { method: 'POST' }), w.enabled ? 'Disabled' : 'Enabled') }, w.enabled ? 'Disable' : 'Enable'),
      h('button', { type: 'button', onclick: async () => {
        try { showExport(w.name, await api(`/api/workflows/${encodeURIComponent(w.name)}`)); } catch (e) { fail(e); }
      } }, 'Export'))));
  const text = h('textarea', { id: 'import-json', 'aria-label': 'Workflow JSON', placeholder: '{"version": 1, "workflow": {"name": "…"}, "steps": [ … ]}' });
  const importBox = h('div', {}, text, h('div', { class: 'row' }, h('button', { type: 'button', class: 'primary', id: 'import', onclick: () => act(async () => {
    let doc;
    try { doc = JSON.parse(text.value); } catch { throw new Error('That is not valid JSON.'); }
    await api('/api/workflows', { method: 'POST', body: doc });
  }, 'Imported (disabled until you enable it)') }, 'Create / import'), h('span', { class: 'muted' }, 'Imported workflows start disabled.')));
  return [h('h1', {}, 'Workflows'),
    table(['Name', 'Enabled', 'Schedule', 'Steps', '2FA', 'Node', ''], rows),
    h('div', { id: 'export' }),
    h('h2', {}, 'Create or import a workflow'), importBox];
}

function showExport(name, doc) {
  const box = document.getElementById('export');
  box.replaceChildren(h('h2', {}, `Export of ${name}`), h('pre', {}, JSON.stringify(doc, null, 2)));
}

async function runs() {
  const id = new URLSearchParams(location.search).get('id');
  if (id) return runDetail(id);
  const { runs: list } = await api('/api/runs?limit=100');
  return [h('h1', {}, 'Runs'),
    table(['Run', 'Workflow', 'Status', 'Started (UTC)', 'Completed (UTC)', 'Node', 'Error'], list.map((r) =>
      h('tr', {}, h('td', {}, link(`/runs?id=${r.id}`, `#${r.id}`)), h('td', {}, r.workflow ?? '(deleted)'),
        h('td', {}, status(r.status)), h('td', {}, r.started_at), h('td', {}, r.completed_at ?? ''),
        h('td', {}, r.node), h('td', {}, r.error ?? ''))))];
}

async function runDetail(id) {
  const r = await api(`/api/runs/${encodeURIComponent(id)}`);
  const steps = Object.entries(r.step_results || {}).sort((a, b) => Number(a[0]) - Number(b[0]));
  const path = (r.path || []).map((p) => h('span', {}, `${p.position} ${p.skill} → ${p.metadata?.branch ?? (p.metadata?.skipped ? 'skipped' : p.metadata?.error ? 'error' : '?')}`));
  const cancel = r.status === 'running' ? h('button', { type: 'button', onclick: async () => {
    try { await api(`/api/runs/${r.id}/cancel`, { method: 'POST' }); message('Cancelled'); render(); } catch (e) { fail(e); }
  } }, 'Cancel') : null;
  return [h('h1', {}, `Run #${r.id}`),
    h('div', { class: 'cards' }, [['Workflow', r.workflow ?? '(deleted)'], ['Status', r.status], ['Started (UTC)', r.started_at],
      ['Completed (UTC)', r.completed_at ?? '—'], ['Node', r.node]].map(([k, v]) => h('div', { class: 'card' }, h('div', { class: 'k' }, k), h('div', { class: 'v', 'data-field': k }, v)))),
    cancel, r.error ? h('p', { class: 'error' }, r.error) : null,
    h('h2', {}, 'Branch path'), h('div', { class: 'path', id: 'branch-path' }, path.length ? path : h('span', {}, 'no step ran')),
    h('h2', {}, 'Step results'),
    table(['Position', 'Name', 'Skill', 'Branch', 'Output or error'], steps.map(([pos, s]) =>
      h('tr', {}, h('td', {}, pos), h('td', {}, s.name), h('td', {}, s.skill), h('td', {}, s.branch ?? 'error'),
        h('td', {}, h('pre', {}, s.error ?? JSON.stringify(s.output, null, 2)))))),
    h('h2', {}, 'Result'), h('pre', {}, JSON.stringify(r.result, null, 2)),
    h('p', {}, link('/runs', '← all runs'))];
}

async function config() {
  const { settings } = await api('/api/settings');
  const groups = {};
  for (const s of settings) (groups[s.category || 'general'] ||= []).push(s);
  const out = [h('h1', {}, 'Config'),
    h('p', { class: 'muted' }, 'Secrets are shown masked and are never sent to the browser in clear. Leave a secret empty to keep it.')];
  const token = h('div', { id: 'token' });
  out.push(h('h2', {}, 'API token'), h('div', { class: 'row' },
    h('button', { type: 'button', id: 'rotate-token', onclick: async () => {
      try {
        const r = await api('/api/token', { method: 'POST' });
        token.replaceChildren(h('p', { class: 'msg ok' }, 'New token (shown once): ', h('code', { id: 'new-token' }, r.token)));
      } catch (e) { fail(e); }
    } }, 'Create a new API token'), h('span', { class: 'muted' }, 'Scripts send it as Authorization: Bearer <token>. The old one stops working.')), token);
  for (const [cat, rows] of Object.entries(groups).sort()) {
    out.push(h('h2', {}, cat), table(['Key', 'Value', 'New value', ''], rows.map((s) => {
      const input = s.type === 'boolean'
        ? h('select', { 'aria-label': s.key }, h('option', { value: 'true', selected: s.value === 'true' }, 'true'), h('option', { value: 'false', selected: s.value === 'false' }, 'false'))
        : h('input', { 'aria-label': s.key, type: s.sensitive ? 'password' : 'text', autocomplete: 'off', placeholder: s.sensitive ? (s.set ? 'unchanged' : 'not set') : '', value: s.sensitive ? '' : (s.value ?? '') });
      return h('tr', { 'data-key': s.key },
        h('td', {}, h('code', {}, s.key), h('div', { class: 'muted' }, s.description)),
        h('td', { class: 'value' }, s.readable ? (s.value ?? '') : h('span', { class: 'status-failed' }, 'unreadable')),
        h('td', {}, input),
        h('td', {}, h('button', { type: 'button', onclick: async () => {
          if (s.sensitive && input.value === '') { message(`${s.key}: left unchanged`); return; }
          try { await api(`/api/settings/${encodeURIComponent(s.key)}`, { method: 'PUT', body: { value: input.value } }); message(`${s.key} saved`); render(); } catch (e) { fail(e); }
        } }, 'Save')));
    })));
  }
  return out;
}

async function logs() {
  const { lines } = await api('/api/logs');
  return [h('h1', {}, 'Logs'), h('div', { class: 'row' }, h('button', { type: 'button', onclick: render }, 'Refresh'),
    h('span', { class: 'muted' }, `${lines.length} most recent lines, oldest first`)),
  h('pre', { class: 'logs' }, lines.join('\n'))];
}

const pages = { '/': dashboard, '/workflows': workflows, '/runs': runs, '/config': config, '/logs': logs };

async function render() {
  const page = pages[location.pathname] || dashboard;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.getAttribute('href') === location.pathname);
  try {
    main().replaceChildren(...(await page()).filter((x) => x));
    showFlash();
  } catch (e) {
    main().replaceChildren(h('p', { class: 'error', role: 'alert' }, e.message));
  }
}

function go(href) {
  flash = null;
  history.pushState(null, '', href);
  render();
}

async function start() {
  session = await api('/api/session');
  document.getElementById('node').textContent = `${session.node} · ${session.version}`;
  for (const a of document.querySelectorAll('nav a')) a.addEventListener('click', (ev) => { ev.preventDefault(); go(a.getAttribute('href')); });
  document.getElementById('logout').addEventListener('click', async () => {
    await fetch('/logout', { method: 'POST', headers: { 'X-CSRF-Token': session.csrf_token }, credentials: 'same-origin' });
    location.assign('/login');
  });
  window.addEventListener('popstate', render);
  render();
}

start().catch((e) => { main().replaceChildren(h('p', { class: 'error' }, e.message)); });
