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

// One HTTP call: the answer's status and JSON body (empty when it has none). A 401 goes to the login page.
async function request(path, opts = {}) {
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
  return { res, data };
}

function httpError(res, data) {
  const e = new Error(data.error || `${res.status} ${res.statusText}`);
  e.status = res.status;
  e.data = data;
  return e;
}

// The JSON API. An action 2FA guards answers 403 "2fa_required" with a challenge: the 2FA dialog asks for a code,
// and the caller gets what the approved action answered (or an error when the person cancels).
async function api(path, opts = {}) {
  const { res, data } = await request(path, opts);
  if (res.status === 403 && data.error === '2fa_required' && data.challenge) return approve(data);
  if (!res.ok) throw httpError(res, data);
  return data;
}

// `a` b `c` -> code, text, code (the server's descriptions mark names so, for Telegram's Markdown as well)
function backticks(text) {
  return String(text).split('`').map((part, i) => (i % 2 ? h('code', {}, part) : part));
}

// --- the 2FA dialog ---
// The server keeps one open challenge per person: a newer one replaces the older, so a newer dialog does too.
let approval = null; // { dialog, reject, returnFocus } while the dialog is open

function closeApproval() {
  if (!approval) return;
  const { dialog, returnFocus } = approval;
  approval = null;
  if (dialog.open) dialog.close();
  dialog.remove();
  if (returnFocus && returnFocus.isConnected) returnFocus.focus();
}

function approve(ch) {
  if (approval) { const { reject } = approval; closeApproval(); reject(new Error('2FA: replaced by a newer action that needs a code.')); }
  return new Promise((resolve, reject) => {
    const code = h('input', { id: 'twofa-code', name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code',
      pattern: '[0-9]{6}', maxlength: 6, 'aria-describedby': 'twofa-error', spellcheck: 'false' });
    const error = h('p', { class: 'error', id: 'twofa-error', role: 'alert', hidden: true });
    const confirm = h('button', { type: 'submit', class: 'primary', id: 'twofa-confirm' }, 'Confirm');
    const cancelButton = h('button', { type: 'button', id: 'twofa-cancel', onclick: () => cancel() }, 'Cancel');
    const text = ch.message || (ch.telegram
      ? 'This action requires 2FA verification: enter a code from your authenticator app here, or send it to the Telegram bot.'
      : 'This action requires 2FA verification: enter a code from your authenticator app.');
    const showError = (msg) => { error.textContent = msg; error.hidden = false; };
    const finish = (fn, value) => { closeApproval(); fn(value); };
    let busy = false; // a code is being checked: its answer (maybe a token shown once) must not be lost to a Cancel
    const cancel = () => {
      if (busy) return;
      // the server drops the challenge too, so a code typed in Telegram later approves nothing
      request('/api/2fa/cancel', { method: 'POST', body: { challenge: ch.challenge } }).catch(() => {});
      finish(reject, new Error('2FA approval cancelled: the action was not run.'));
    };
    const setBusy = (b) => { busy = b; confirm.disabled = b; cancelButton.disabled = b; };
    const submit = async (ev) => {
      ev.preventDefault();
      if (busy) return;
      const value = code.value.replace(/\s+/g, '');
      if (!/^[0-9]{6}$/.test(value)) { showError('Enter the 6 digits your authenticator app shows.'); code.focus(); return; }
      setBusy(true);
      let res, data;
      try {
        ({ res, data } = await request('/api/2fa/verify', { method: 'POST', body: { challenge: ch.challenge, code: value } }));
      } catch (e) {
        setBusy(false);
        showError(`Could not reach the server (${e.message}); try again.`);
        return;
      }
      setBusy(false);
      if (approval?.dialog !== dialog) return; // replaced or cancelled meanwhile
      if (res.ok) {
        finish(resolve, data.approved ? (data.result ?? {}) : data); // api_token: the answer is the new token
      } else if (res.status === 403 && data.attempts_left > 0) {
        const n = data.attempts_left;
        showError(`Invalid code (${n} attempt${n === 1 ? '' : 's'} left)`);
        code.value = '';
        code.focus();
      } else if (res.status === 403 && 'attempts_left' in data) {
        finish(reject, httpError(res, { error: 'Invalid code, and no attempts are left: the action was cancelled. Try it again.' }));
      } else if (res.status === 404) {
        finish(reject, httpError(res, { error: 'This 2FA request is no longer open (it was answered, replaced or cancelled). Try the action again.' }));
      } else if (res.status === 410) {
        finish(reject, httpError(res, { error: 'This 2FA request expired. Try the action again.' }));
      } else {
        // approved but the action failed, 2FA turned off meanwhile, a database error...
        finish(reject, httpError(res, { ...data, error: data.approved ? `Approved, but it failed: ${data.error}` : (data.error || `2FA: ${res.status}`) }));
      }
    };
    const dialog = h('dialog', { class: 'twofa', id: 'twofa-dialog', 'aria-labelledby': 'twofa-title', 'aria-describedby': 'twofa-description' },
      h('form', { novalidate: true, onsubmit: submit },
        h('h2', { id: 'twofa-title' }, 'Two-factor verification'),
        h('p', { id: 'twofa-description', class: 'twofa-action' }, backticks(ch.description || 'An action that needs 2FA.')),
        h('p', { class: 'muted', id: 'twofa-message' }, text),
        h('label', { class: 'field', for: 'twofa-code' }, '6-digit code', code),
        error,
        h('div', { class: 'row' }, confirm, cancelButton)));
    dialog.addEventListener('cancel', (ev) => { ev.preventDefault(); cancel(); }); // Escape
    approval = { dialog, reject, returnFocus: document.activeElement };
    document.body.append(dialog);
    dialog.showModal();
    code.focus();
  });
}

// A message stays on the page until the next one, also across the re-render that usually follows an action.
let flash = null;

function showFlash() {
  const old = document.querySelector('main > .msg.flash'); // only the flash: a page may have messages of its own
  if (old) old.remove();
  if (flash) main().prepend(h('p', { class: `msg flash ${flash.kind}`, role: flash.kind === 'error' ? 'alert' : 'status' }, flash.text));
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
    ['Executor', `${s.system.executor.running} running, ${s.system.executor.queued} queued`],
    ['Telegram', `${s.telegram.state}, ${s.telegram.handled} handled, ${s.telegram.ignored_chat} ignored`]];
  const breakers = Object.entries(s.circuit_breakers).map(([skill, b]) =>
    h('tr', {}, h('td', {}, skill), h('td', {}, h('span', { class: `state-${b.state}` }, b.state)),
      h('td', {}, b.failure_count), h('td', {}, b.last_error)));
  return [h('h1', {}, 'Dashboard'),
    h('div', { class: 'cards' }, cards.map(([k, v]) => h('div', { class: 'card' }, h('div', { class: 'k' }, k), h('div', { class: 'v' }, v)))),
    s.telegram.note ? h('p', { class: 'msg warn', id: 'telegram-note' }, s.telegram.note) : null,
    h('h2', {}, 'Recent runs'),
    table(['Run', 'Workflow', 'Status', 'Started (UTC)', 'Node', 'Error'], s.recent_runs.map((r) =>
      h('tr', {}, h('td', {}, link(`/runs?id=${r.id}`, `#${r.id}`)), h('td', {}, r.workflow ?? '(deleted)'),
        h('td', {}, status(r.status)), h('td', {}, r.started_at), h('td', {}, r.node), h('td', {}, r.error ?? '')))),
    h('h2', {}, 'Circuit breakers'),
    table(['Skill', 'State', 'Failures', 'Last error'], breakers)];
}

async function workflows() {
  const q = new URLSearchParams(location.search);
  if (q.has('edit') || q.has('new')) return editor(q.get('edit'));
  const { workflows: all } = await api('/api/workflows');
  const filter = (q.get('q') || '').toLowerCase();
  const list = all.filter((w) => !filter || w.name.toLowerCase().includes(filter) || (w.description || '').toLowerCase().includes(filter));
  // fn may answer the message to show (a string); otherwise ok is shown
  const act = async (fn, ok) => { try { const said = await fn(); message(typeof said === 'string' ? said : ok); render(); } catch (e) { fail(e); } };
  const rows = list.map((w) => h('tr', {},
    h('td', {}, h('strong', {}, w.name), w.description ? h('div', { class: 'muted' }, w.description) : null),
    h('td', {}, w.enabled ? 'yes' : 'no'), h('td', {}, w.schedule ?? ''), h('td', {}, w.steps),
    h('td', {}, w.requires_2fa ? 'yes' : ''), h('td', {}, w.node ?? ''),
    h('td', { class: 'actions' },
      h('button', { type: 'button', 'data-action': 'run', 'data-name': w.name, onclick: () => act(async () => {
        // a workflow that requires 2FA goes through the 2FA dialog first; the answer is the same either way
        const r = await api(`/api/workflows/${encodeURIComponent(w.name)}/run`, { method: 'POST' });
        if (!r.run_id) return r.note || `${w.name}: queued, it starts when a worker is free (see Runs)`;
        go(`/runs?id=${r.run_id}`);
        return `Started run #${r.run_id} of ${w.name}`;
      }, 'Started') }, 'Run now'),
      h('button', { type: 'button', onclick: () => act(() => api(`/api/workflows/${encodeURIComponent(w.name)}/${w.enabled ? 'disable' : 'enable'}`, { method: 'POST' }), w.enabled ? 'Disabled' : 'Enabled') }, w.enabled ? 'Disable' : 'Enable'),
      h('button', { type: 'button', 'data-action': 'edit', onclick: () => go(`/workflows?edit=${encodeURIComponent(w.name)}`) }, 'Edit'),
      h('button', { type: 'button', onclick: async () => {
        try { showExport(w.name, await api(`/api/workflows/${encodeURIComponent(w.name)}`)); } catch (e) { fail(e); }
      } }, 'Export'))));
  const search = h('input', { type: 'search', id: 'filter', placeholder: 'Filter by name or description', value: filter,
    'aria-label': 'Filter workflows',
    onchange: () => go(`/workflows${search.value ? `?q=${encodeURIComponent(search.value)}` : ''}`) });
  const text = h('textarea', { id: 'import-json', 'aria-label': 'Workflow JSON', placeholder: '{"version": 1, "workflow": {"name": "…"}, "steps": [ … ]}' });
  const importBox = h('div', {}, text, h('div', { class: 'row' }, h('button', { type: 'button', class: 'primary', id: 'import', onclick: () => act(async () => {
    let doc;
    try { doc = JSON.parse(text.value); } catch { throw new Error('That is not valid JSON.'); }
    await api('/api/workflows', { method: 'POST', body: doc });
  }, 'Imported (disabled until you enable it)') }, 'Create / import'), h('span', { class: 'muted' }, 'Imported workflows start disabled.')));
  return [h('h1', {}, 'Workflows'),
    h('div', { class: 'row' }, h('button', { type: 'button', class: 'primary', id: 'new-workflow', onclick: () => go('/workflows?new=1') }, 'New workflow'), search),
    h('p'),
    table(['Name', 'Enabled', 'Schedule', 'Steps', '2FA', 'Node', ''], rows),
    h('div', { id: 'export' }),
    h('h2', {}, 'Create or import a workflow'), importBox];
}

// The workflow editor: the workflow's fields and its steps (skill, config, input, routes, resilience options).
// It edits the export document and saves it whole (PUT replaces the definition; POST creates a disabled workflow).
const RESILIENCE = ['on_missing_skill', 'on_circuit_open', 'fallback_skill', 'timeout_ms'];

async function editor(name) {
  const [{ skills }, doc] = await Promise.all([api('/api/skills'),
    name ? api(`/api/workflows/${encodeURIComponent(name)}`) : Promise.resolve({ version: 1, workflow: { name: '', metadata: {} }, steps: [] })]);
  const wf = doc.workflow;
  const steps = (doc.steps || []).map((s) => ({ ...s }));
  const skillList = h('datalist', { id: 'skill-list' }, skills.map((k) => h('option', { value: k.name }, k.description)));
  const field = (label, id, value, attrs = {}) => h('label', { class: 'field' }, label, h('input', { id, value: value ?? '', ...attrs }));
  const nameIn = field('Name', 'wf-name', wf.name, { required: true });
  const descIn = field('Description', 'wf-description', wf.description);
  const schedIn = field('Schedule (5-field cron, UTC; empty: none)', 'wf-schedule', wf.schedule);
  const nodeIn = field('Node (empty: any)', 'wf-node', wf.node);
  const twofa = h('input', { type: 'checkbox', id: 'wf-2fa', checked: !!(wf.metadata && wf.metadata.requires_2fa) });
  const box = h('div', { id: 'steps' });

  const routeOptions = (skill) => (skills.find((k) => k.name === skill)?.routes || []).concat(['on_error', 'default']);
  function stepView(st, i) {
    const cfg = { ...(st.config || {}) };
    const res = {};
    for (const k of RESILIENCE) { if (k in cfg) { res[k] = cfg[k]; delete cfg[k]; } }
    const inp = (key, value, attrs = {}) => h('input', { value: value ?? '', 'data-key': key, ...attrs });
    const sel = (key, value) => h('select', { 'data-key': key }, ['', 'halt', 'skip', 'fallback'].map((o) => h('option', { value: o, selected: (value || '') === o }, o || '(halt)')));
    const routes = h('div', { class: 'routes' }, (st.routes || []).map((r) => routeRow(st, r)));
    const el = h('fieldset', { class: 'step', 'data-index': i },
      h('legend', {}, `Step ${i + 1}`),
      h('div', { class: 'grid' },
        h('label', { class: 'field' }, 'Position', inp('position', st.position ?? (i + 1), { type: 'number' })),
        h('label', { class: 'field' }, 'Name', inp('name', st.name)),
        h('label', { class: 'field' }, 'Skill', inp('skill', st.skill, { list: 'skill-list' })),
        h('label', { class: 'field' }, 'Input from (position; empty: the step before)', inp('input_from', st.input_from, { type: 'number' }))),
      h('label', { class: 'field' }, 'Config (JSON object)', h('textarea', { 'data-key': 'config', rows: 3 }, JSON.stringify(cfg, null, 2))),
      h('div', { class: 'grid' },
        h('label', { class: 'field' }, 'When the skill is missing', sel('on_missing_skill', res.on_missing_skill)),
        h('label', { class: 'field' }, 'When its circuit is open', sel('on_circuit_open', res.on_circuit_open)),
        h('label', { class: 'field' }, 'Fallback skill', inp('fallback_skill', res.fallback_skill, { list: 'skill-list' })),
        h('label', { class: 'field' }, 'Timeout (ms)', inp('timeout_ms', res.timeout_ms, { type: 'number' }))),
      h('div', {}, h('strong', {}, 'Routes '), h('span', { class: 'muted' }, `branches of this skill: ${routeOptions(st.skill).join(', ')}; goto a position or "end"`)),
      routes,
      h('div', { class: 'row' },
        h('button', { type: 'button', onclick: () => routes.append(routeRow(st, { branch: '', goto: '' })) }, 'Add route'),
        h('button', { type: 'button', onclick: () => { collect(); steps.splice(i, 1); draw(); } }, 'Remove step')));
    return el;
  }
  function routeRow(st, r) {
    return h('div', { class: 'row route' },
      h('input', { 'data-key': 'branch', value: r.branch ?? '', placeholder: 'branch', list: `routes-${st.position}`, 'aria-label': 'branch' }),
      h('span', {}, '→'),
      h('input', { 'data-key': 'goto', value: r.goto ?? '', placeholder: 'position or end', 'aria-label': 'goto' }),
      h('button', { type: 'button', onclick: (ev) => ev.target.closest('.route').remove() }, '×'));
  }
  function collect() { // form -> steps (throws on bad input)
    const out = [];
    for (const fs of box.querySelectorAll('fieldset.step')) {
      const get = (k) => fs.querySelector(`[data-key="${k}"]`).value.trim();
      let config;
      try { config = JSON.parse(get('config') || '{}'); } catch { throw new Error(`Step ${Number(fs.dataset.index) + 1}: the config is not valid JSON`); }
      if (typeof config !== 'object' || Array.isArray(config) || config === null) throw new Error(`Step ${Number(fs.dataset.index) + 1}: the config must be a JSON object`);
      for (const k of ['on_missing_skill', 'on_circuit_open', 'fallback_skill']) { const v = get(k); if (v) config[k] = v; }
      if (get('timeout_ms')) config.timeout_ms = Number(get('timeout_ms'));
      const routes = [...fs.querySelectorAll('.route')].map((r) => {
        const branch = r.querySelector('[data-key=branch]').value.trim(), g = r.querySelector('[data-key=goto]').value.trim();
        return { branch, goto: g === 'end' || g === '' ? 'end' : Number(g) };
      }).filter((r) => r.branch);
      const st = { position: Number(get('position')), name: get('name'), skill: get('skill'), config, routes };
      if (get('input_from')) st.input_from = Number(get('input_from'));
      out.push(st);
    }
    steps.splice(0, steps.length, ...out);
  }
  function draw() { box.replaceChildren(...steps.map(stepView)); }
  draw();

  const save = async () => {
    try {
      collect();
      const metadata = { ...(wf.metadata || {}), requires_2fa: twofa.checked };
      if (!twofa.checked) delete metadata.requires_2fa;
      const out = { version: 1, workflow: { name: nameIn.querySelector('input').value.trim(), description: descIn.querySelector('input').value || null,
        schedule: schedIn.querySelector('input').value.trim() || null, node: nodeIn.querySelector('input').value.trim() || null,
        default_provider: wf.default_provider ?? null, metadata }, steps };
      if (name) await api(`/api/workflows/${encodeURIComponent(name)}`, { method: 'PUT', body: out });
      else await api('/api/workflows', { method: 'POST', body: out });
      go('/workflows');
      message(name ? `Saved ${out.workflow.name}` : `Created ${out.workflow.name} (disabled until you enable it)`);
    } catch (e) { fail(e); }
  };
  return [h('h1', {}, name ? `Edit ${name}` : 'New workflow'), skillList,
    h('div', { class: 'grid' }, nameIn, descIn, schedIn, nodeIn),
    h('label', { class: 'row' }, twofa, 'Requires 2FA (machines never run it; people need a code)'),
    h('h2', {}, 'Steps'), box,
    h('div', { class: 'row' },
      h('button', { type: 'button', id: 'add-step', onclick: () => { try { collect(); } catch (e) { fail(e); return; } steps.push({ position: (steps.at(-1)?.position ?? 0) + 1, name: '', skill: '', config: {}, routes: [] }); draw(); } }, 'Add step'),
      h('button', { type: 'button', class: 'primary', id: 'save-workflow', onclick: save }, 'Save'),
      h('button', { type: 'button', onclick: () => go('/workflows') }, 'Cancel'))];
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

async function cluster() {
  const c = await api('/api/cluster');
  const act = async (name, op) => {
    try { await api(`/api/cluster/${encodeURIComponent(name)}/${op}`, { method: 'POST' }); message(`${name}: ${op === 'remove' ? 'removed' : op === 'approve' ? 'approved' : 'no longer approved'}`); render(); } catch (e) { fail(e); }
  };
  const rows = c.nodes.map((n) => h('tr', { 'data-node': n.name },
    h('td', {}, h('strong', {}, n.name), n.name === c.node ? h('span', { class: 'muted' }, ' (this node)') : null),
    h('td', {}, h('span', { class: n.status === 'connected' ? 'status-completed' : 'muted' }, n.status ?? 'unknown')),
    h('td', {}, n.approved ? 'yes' : 'no'), h('td', {}, n.last_seen_at ?? ''),
    h('td', { class: 'actions' },
      n.approved ? h('button', { type: 'button', onclick: () => act(n.name, 'revoke') }, 'Revoke')
        : h('button', { type: 'button', onclick: () => act(n.name, 'approve') }, 'Approve'),
      h('button', { type: 'button', onclick: () => act(n.name, 'remove') }, 'Remove'))));
  const name = h('input', { id: 'approve-name', placeholder: 'name@host', 'aria-label': 'Node to approve' });
  return [h('h1', {}, 'Cluster'),
    h('p', { class: 'muted' }, c.distribution
      ? `This node is ${c.node}. A receive_from_workflow gate with an empty allowed_nodes admits the approved nodes only; nodes that merely connected are listed but not trusted. Changes reach the node within 10 s.`
      : 'Erlang distribution is off on this node (NODE_NAME is not set). Approvals are stored all the same, for the nodes that share this database.'),
    table(['Node', 'Status', 'Approved', 'Last seen (UTC)', ''], rows),
    h('h2', {}, 'Approve a node'),
    h('div', { class: 'row' }, name, h('button', { type: 'button', class: 'primary', id: 'approve', onclick: () => act(name.value.trim(), 'approve') }, 'Approve'))];
}

// --- the Skills page: core and dynamic skills with their circuit breakers, the Lua files in SKILLS_DIR, uploads ---
// Loading, reloading and unloading a dynamic skill waits for a 2FA code (the dialog shows the skill's version,
// permissions and checksum); while 2FA is off the server refuses them and says why. A skill's description, version
// and the loader's errors come from skill files: they are put in the page as text, like everything else.
const SKILL_FILE_MAX = 256 * 1024; // bytes of source (the server checks it too)

function skillPerms(p) {
  if (p === 'all') return h('span', { class: 'muted' }, 'all (core)');
  return p.length ? p.join(', ') : h('span', { class: 'muted' }, 'none');
}

function skillBreaker(b) {
  return [h('span', { class: `state-${b.state}` }, b.state),
    b.failures ? ` (${b.failures} failure${b.failures === 1 ? '' : 's'})` : '',
    b.last_error ? h('div', { class: 'muted' }, b.last_error) : null];
}

// The upload form: a .lua file from this computer (read as UTF-8 text, exactly) or source pasted in. Writing a file
// never loads it.
function skillUpload() {
  const errors = {};
  const errorOf = (f) => (errors[f] = h('p', { class: 'error field-error', id: `skill-${f}-error`, role: 'alert', hidden: true }));
  const picker = h('input', { type: 'file', id: 'skill-file', accept: '.lua' });
  const filename = h('input', { id: 'skill-filename', placeholder: 'name.lua', autocomplete: 'off', spellcheck: 'false',
    maxlength: 52, 'aria-describedby': 'skill-filename-error' });
  const source = h('textarea', { id: 'skill-source', rows: 10, spellcheck: 'false', 'aria-describedby': 'skill-source-error',
    placeholder: "skill = { name = 'hello', version = '1', description = 'says hello', permissions = {} }\nfunction run(args)\n  return true, 'hello'\nend" });
  const showError = (f, msg) => { errors[f].textContent = msg; errors[f].hidden = false; (f === 'filename' ? filename : source).focus(); };
  let picked = null; // the chosen file's text, sent as it is unless the text is edited (a textarea rewrites line ends)
  source.addEventListener('input', () => { picked = null; });
  picker.addEventListener('change', async () => {
    for (const e of Object.values(errors)) e.hidden = true;
    const f = picker.files[0];
    if (!f) return;
    if (f.size > SKILL_FILE_MAX) { showError('source', `${f.name} is ${f.size} bytes; a skill file is at most 256 KiB.`); picker.value = ''; return; }
    let textOf;
    try { textOf = new TextDecoder('utf-8', { fatal: true }).decode(await f.arrayBuffer()); } catch {
      showError('source', `${f.name} is not UTF-8 text: a skill file is Lua source.`);
      picker.value = '';
      return;
    }
    filename.value = f.name;
    source.value = textOf;
    picked = textOf;
  });
  const save = h('button', { type: 'submit', class: 'primary', id: 'skill-upload' }, 'Upload');
  const submit = async (ev) => {
    ev.preventDefault();
    for (const e of Object.values(errors)) e.hidden = true;
    const text = picked ?? source.value;
    const bytes = new TextEncoder().encode(text).length;
    if (bytes > SKILL_FILE_MAX) { showError('source', `The source is ${bytes} bytes; a skill file is at most 256 KiB (${SKILL_FILE_MAX} bytes).`); return; }
    save.disabled = true;
    try {
      const r = await api('/api/skills/files', { method: 'POST', body: { filename: filename.value.trim(), source: text } });
      message(`Wrote ${r.file} (${r.bytes} bytes): ${r.note}`);
      render();
    } catch (e) {
      save.disabled = false;
      const f = e.data?.field;
      if (f && errors[f]) showError(f, e.message); else fail(e);
    }
  };
  return h('form', { class: 'card skill-upload', id: 'skill-upload-form', novalidate: true, onsubmit: submit },
    h('h2', {}, 'Upload a skill file'),
    h('p', { class: 'muted' }, 'Choose a .lua file or paste its source. The file is written into SKILLS_DIR (replacing one of the same name) and is not loaded: load it from the list above. At most 256 KiB of UTF-8 text.'),
    h('div', { class: 'grid' },
      h('div', { class: 'field' }, h('label', { for: 'skill-file' }, 'File from this computer'), picker),
      h('div', { class: 'field' }, h('label', { for: 'skill-filename' }, 'File name (<name>.lua)'), filename, errorOf('filename'))),
    h('div', { class: 'field' }, h('label', { for: 'skill-source' }, 'Source'), source, errorOf('source')),
    h('div', { class: 'row' }, save));
}

async function skills() {
  const [list, files] = await Promise.all([api('/api/skills'), api('/api/skills/files')]);
  const dyn = list.dynamic_skills;
  // fn may answer the message to show; loader errors (and a refusal while 2FA is off) show as the error message
  const act = async (fn) => { try { message(await fn()); render(); } catch (e) { fail(e); } };
  const load = (file) => act(async () => {
    const r = await api('/api/skills/load', { method: 'POST', body: { file } });
    return `Loaded ${r.name} version ${r.version || '(none)'} from ${r.file}`;
  });
  const reload = (name) => act(async () => {
    const r = await api(`/api/skills/${encodeURIComponent(name)}/reload`, { method: 'POST' });
    return `Reloaded ${r.name}: version ${r.version || '(none)'}`;
  });
  const unload = (name) => act(async () => {
    await api(`/api/skills/${encodeURIComponent(name)}/unload`, { method: 'POST' });
    return `Unloaded ${name}`;
  });
  const manage = (name) => (dyn.enabled ? [
    h('button', { type: 'button', 'data-action': 'reload', onclick: () => reload(name) }, 'Reload'),
    h('button', { type: 'button', 'data-action': 'unload', onclick: () => unload(name) }, 'Unload')] : null);
  const rows = list.skills.map((k) => h('tr', { 'data-skill': k.name, 'data-kind': k.kind },
    h('td', {}, h('strong', {}, k.name), k.description ? h('div', { class: 'muted' }, k.description) : null),
    h('td', { 'data-field': 'kind' }, h('span', { class: `kind kind-${k.kind}` }, k.kind)),
    h('td', { 'data-field': 'version' }, k.version ?? ''),
    h('td', { 'data-field': 'permissions' }, skillPerms(k.permissions)),
    h('td', {}, k.routes.join(', ')),
    h('td', {}, k.file ? [h('code', {}, k.file), h('div', { class: 'muted checksum', title: 'SHA-256 (first 16 hex digits)' }, k.checksum)] : ''),
    h('td', { 'data-field': 'breaker' }, skillBreaker(k.breaker)),
    h('td', { class: 'actions' }, k.kind === 'dynamic' ? manage(k.name) : null)));
  const stray = (list.not_loaded || []).map((k) => h('tr', { 'data-recorded': k.name },
    h('td', {}, h('strong', {}, k.name), k.description ? h('div', { class: 'muted' }, k.description) : null),
    h('td', {}, k.version), h('td', {}, h('code', {}, k.file), h('div', { class: 'muted checksum' }, k.checksum)),
    h('td', {}, k.reason), h('td', { class: 'actions' }, manage(k.name))));
  const fileRows = files.files.map((f) => h('tr', { 'data-file': f.file },
    h('td', {}, h('code', {}, f.file)), h('td', {}, `${f.bytes} B`), h('td', { class: 'nowrap' }, f.modified),
    h('td', { 'data-field': 'loaded_as' }, f.loaded_as ? [f.loaded_as, f.changed ? h('div', { class: 'status-running' }, 'changed since it was loaded: reload to use it') : null] : ''),
    h('td', { class: 'actions' }, f.loaded_as // loaded: a reload takes the file as it is now
      ? h('button', { type: 'button', 'data-action': 'reload', onclick: () => reload(f.loaded_as) }, 'Reload')
      : f.loadable ? h('button', { type: 'button', 'data-action': 'load', onclick: () => load(f.file) }, 'Load')
        : h('span', { class: 'muted' }, 'not a skill file name'))));
  const intro = !dyn.enabled
    ? h('p', { class: 'msg warn', id: 'skills-state', 'data-enabled': 'false' }, 'Dynamic skills are off on this node: the sandbox helper (alexclaw-sandbox, next to alexclaw) is missing, the sandbox user does not exist, or SKILLS_DIR is not usable; the node\'s log says which. Core skills work as usual.')
    : h('p', { class: dyn.two_factor ? 'muted' : 'msg warn', id: 'skills-state', 'data-enabled': 'true', 'data-two-factor': String(dyn.two_factor) },
      'Dynamic skills are Lua files in ', h('code', {}, dyn.dir), ', run in a sandbox and limited to the permissions they declare. ',
      dyn.two_factor ? 'Loading, reloading and unloading one asks for a 2FA code; the prompt shows its version, permissions and checksum.'
        : ['Loading, reloading and unloading one needs a 2FA code: turn on two-factor authentication on the ', link('/config', 'Config'), ' page first.']);
  return [h('h1', {}, 'Skills'), intro,
    table(['Skill', 'Kind', 'Version', 'Permissions', 'Routes', 'File', 'Circuit breaker', ''], rows),
    stray.length ? [h('h2', { id: 'not-loaded-heading' }, 'Recorded but not loaded here'),
      table(['Skill', 'Version', 'File', 'Why', ''], stray)] : null,
    list.not_loaded === null ? h('p', { class: 'muted' }, 'The database did not answer: skills recorded but not loaded here are not shown.') : null,
    dyn.enabled ? [h('h2', { id: 'skill-files-heading' }, 'Skill files'),
      table(['File', 'Size', 'Modified (UTC)', 'Loaded as', ''], fileRows),
      files.truncated ? h('p', { class: 'muted' }, `Only the first ${files.files.length} files are shown.`) : null,
      skillUpload()] : null].flat();
}

// --- the LLM page: the providers the LLM router may send prompts to, their usage today, a test call, and who ---
// receives the owner's data. Provider data comes from the owner's own forms and from other nodes: it is put in the page
// as text. API keys never come back from the server: "********" stands for a key that is set (sent back, it keeps
// it). While 2FA is on, every change (add, edit, enable, disable, delete) goes through the 2FA dialog; a test does not.
const LLM_KEY_MASK = '********';
const LLM_CLOUD = { anthropic: 'cloud: Anthropic', gemini: 'cloud: Google' };
const LLM_REACH = { 'this machine': 'this machine', 'local network': 'your local network', elsewhere: 'another machine', nowhere: 'nowhere (no host set)' };

const llmLimited = (p) => Number.isInteger(p.daily_limit) && p.daily_limit >= 0; // null or -1: no limit

function llmKeyState(p) {
  return p.has_api_key ? 'set' : p.uses_setting_key ? 'from settings' : 'none';
}

function llmWhere(p) {
  return LLM_CLOUD[p.type] ?? (p.host ? p.where : 'no host set');
}

// "Who receives your data": the enabled providers and where their requests go; a warning when one is a cloud API.
function llmReceivers(receivers) {
  const cloud = receivers.filter((r) => r.cloud);
  const box = h('section', { class: 'card llm-receivers', id: 'llm-receivers', 'aria-labelledby': 'llm-receivers-heading', 'data-cloud': cloud.length ? 'true' : 'false' },
    h('h2', { id: 'llm-receivers-heading' }, 'Who receives your data'),
    h('p', {}, 'Workflow steps and skills send prompts to the enabled providers below, and a prompt may hold your data: messages, web pages, documents, memories. Disabled providers receive nothing (a Test sends a fixed prompt only).'));
  if (!receivers.length) {
    box.append(h('p', { class: 'muted', id: 'llm-receivers-none' }, 'No provider is enabled: no prompt leaves this node.'));
    return box;
  }
  box.append(h('ul', { id: 'llm-receivers-list' }, receivers.map((r) => h('li', { 'data-provider': r.name },
    h('strong', {}, r.name), ` (${r.type}) → `, r.cloud ? h('span', { class: 'status-running' }, r.where) : r.where,
    r.cloud ? ' — a third party\'s cloud service' : ` — ${LLM_REACH[r.reach] ?? 'another machine'}`))));
  if (cloud.length) {
    box.append(h('p', { class: 'msg warn', id: 'llm-cloud-warning', role: 'note' },
      `Cloud providers are enabled (${cloud.map((r) => r.name).join(', ')}): prompts, with any of your data in them, leave your machines and are kept and processed under ${[...new Set(cloud.map((r) => (r.type === 'anthropic' ? 'Anthropic' : 'Google')))].join(' and ')}'s terms and data retention policies. Review them before you process sensitive information, or disable these providers.`));
  }
  return box;
}

// The add/edit form. The server checks every field (the store's own validation) and names the one at fault.
function llmForm(p, meta, done) {
  const editing = !!p;
  const errors = {};
  const errorOf = (f) => (errors[f] = h('p', { class: 'error field-error', id: `llm-${f}-error`, role: 'alert', hidden: true }));
  const control = (f, el) => { el.id = `llm-${f}`; el.setAttribute('aria-describedby', `llm-${f}-error`); return el; };
  const type = control('type', h('select', {}, meta.types.map((t) => h('option', { value: t, selected: (p?.type ?? 'openai_compatible') === t }, t))));
  const tier = control('tier', h('select', {}, meta.tiers.map((t) => h('option', { value: t, selected: (p?.tier ?? 'local') === t }, t))));
  // a cloud API is never "local" (the store refuses it): choosing one moves the tier off local
  type.addEventListener('change', () => {
    if ((type.value === 'anthropic' || type.value === 'gemini') && tier.value === 'local') tier.value = 'light';
  });
  const name = control('name', h('input', { value: p?.name ?? '', maxlength: 255, autocomplete: 'off', spellcheck: 'false' }));
  const host = control('host', h('input', { value: p?.host ?? '', maxlength: 255, autocomplete: 'off', spellcheck: 'false', placeholder: 'http://127.0.0.1:11434' }));
  const model = control('model', h('input', { value: p?.model ?? '', maxlength: 255, autocomplete: 'off', spellcheck: 'false' }));
  const keyStart = p?.has_api_key ? LLM_KEY_MASK : '';
  const key = control('api_key', h('input', { type: 'password', value: keyStart, autocomplete: 'new-password', spellcheck: 'false',
    placeholder: p?.uses_setting_key ? 'empty: the key from the settings' : 'empty: none' }));
  const limit = control('daily_limit', h('input', { type: 'text', inputmode: 'numeric', value: p && llmLimited(p) ? String(p.daily_limit) : '', placeholder: 'no limit' }));
  const prio = control('priority', h('input', { type: 'text', inputmode: 'numeric', value: String(p?.priority ?? 100) }));
  const enabled = control('enabled', h('input', { type: 'checkbox', checked: p ? p.enabled : true }));
  const options = control('options', h('textarea', { rows: 3, spellcheck: 'false' }, JSON.stringify(p?.options ?? {}, null, 2)));
  const headers = control('headers', h('textarea', { rows: 3, spellcheck: 'false' }, JSON.stringify(p?.headers ?? {}, null, 2)));
  const hostHelp = h('p', { class: 'muted', id: 'llm-host-help' });
  const showHelp = () => {
    hostHelp.textContent = LLM_CLOUD[type.value]
      ? `${type.value === 'anthropic' ? 'Anthropic' : 'Google Gemini'} is a cloud API: the host is not used, and prompts go to ${type.value === 'anthropic' ? 'Anthropic' : 'Google'}. Without a key of its own the provider uses the setting llm.${type.value}_api_key.`
      : 'The server this provider sends prompts to (an http:// or https:// URL): an Ollama or OpenAI-compatible server.';
  };
  type.addEventListener('change', showHelp);
  showHelp();
  const number = (v) => (/^\d{1,9}$/.test(v) ? Number(v) : v); // sent as typed otherwise: the server says what is wrong
  const save = h('button', { type: 'submit', class: 'primary', id: 'llm-save' }, editing ? 'Save provider' : 'Add provider');
  const showError = (f, msg) => { errors[f].textContent = msg; errors[f].hidden = false; document.getElementById(`llm-${f}`)?.focus(); };
  const submit = async (ev) => {
    ev.preventDefault();
    for (const e of Object.values(errors)) { e.hidden = true; e.textContent = ''; }
    const body = { name: name.value.trim(), type: type.value, tier: tier.value, host: host.value.trim() || null, model: model.value.trim(),
      daily_limit: limit.value.trim() === '' ? null : number(limit.value.trim()), priority: prio.value.trim() === '' ? 100 : number(prio.value.trim()),
      enabled: enabled.checked };
    for (const [f, el] of [['options', options], ['headers', headers]]) {
      try { body[f] = el.value.trim() === '' ? {} : JSON.parse(el.value); } catch { showError(f, `${f}: not valid JSON`); return; }
    }
    if (key.value !== keyStart) body.api_key = key.value; // untouched: the stored key stays
    save.disabled = true;
    try {
      if (editing) await api(`/api/llm/providers/${p.id}`, { method: 'PUT', body });
      else await api('/api/llm/providers', { method: 'POST', body });
      key.value = '';
      done(editing ? `Saved provider ${body.name}` : `Added provider ${body.name}`);
    } catch (e) {
      save.disabled = false;
      const f = e.data?.field;
      if (f && errors[f]) showError(f, e.message); else fail(e);
    }
  };
  const labelled = (f, label, el, ...more) => h('div', { class: 'field' }, h('label', { for: `llm-${f}` }, label), el, errorOf(f), ...more);
  return h('form', { class: 'card llm-form', id: 'llm-form', novalidate: true, onsubmit: submit, 'data-editing': editing ? String(p.id) : null },
    h('h2', { id: 'llm-form-title' }, editing ? `Edit provider #${p.id}` : 'New provider'),
    h('div', { class: 'grid' },
      labelled('type', 'Type', type), labelled('tier', 'Tier', tier), labelled('name', 'Name', name), labelled('model', 'Model', model)),
    h('div', { class: 'grid' },
      labelled('host', 'Host', host, hostHelp),
      labelled('api_key', 'API key', key, h('p', { class: 'muted' }, 'Never shown: ******** stands for the stored key; empty removes it.')),
      labelled('daily_limit', 'Daily limit (calls a UTC day; empty: none)', limit),
      labelled('priority', 'Priority (lower first)', prio)),
    h('label', { class: 'row', for: 'llm-enabled' }, enabled, 'Enabled (it may receive prompts)'), errorOf('enabled'),
    h('div', { class: 'grid' },
      labelled('options', 'Options (JSON object: temperature, top_p, max_tokens, ...)', options),
      labelled('headers', 'Headers (JSON object; OpenAI-compatible servers)', headers)),
    h('div', { class: 'row' }, save,
      editing ? h('button', { type: 'button', id: 'llm-cancel', onclick: () => done(null) }, 'Cancel') : null));
}

async function llm() {
  const data = await api('/api/llm/providers');
  const meta = { types: data.types, tiers: data.tiers };
  const act = async (fn, ok) => { try { await fn(); message(ok); render(); } catch (e) { fail(e); render(); } };
  const testBox = h('div', { id: 'llm-test', 'aria-live': 'polite' });
  const test = async (p, button) => {
    button.disabled = true;
    testBox.replaceChildren(h('p', { class: 'muted' }, `Testing ${p.name}… (up to 60 s)`));
    try {
      const r = await api(`/api/llm/providers/${p.id}/test`, { method: 'POST' });
      testBox.dataset.ok = String(r.ok);
      testBox.replaceChildren(h('p', { class: `msg ${r.ok ? 'ok' : 'error'}`, id: 'llm-test-result' },
        r.ok ? `${r.provider} (${r.model}) answered in ${r.ms} ms: ` : `${r.provider} (${r.model}) failed after ${r.ms} ms: `,
        h('span', { id: 'llm-test-text' }, r.ok ? r.text : r.error)));
    } catch (e) {
      testBox.dataset.ok = 'false';
      testBox.replaceChildren(h('p', { class: 'msg error', id: 'llm-test-result' }, e.message));
    }
    button.disabled = false;
  };
  let form = llmForm(null, meta, (said) => { message(said); render(); });
  const edit = (p) => {
    const next = llmForm(p, meta, (said) => { if (said) { message(said); render(); } else { form.replaceWith(form = llmForm(null, meta, (x) => { message(x); render(); })); } });
    form.replaceWith(next);
    form = next;
    form.scrollIntoView({ block: 'start' });
    document.getElementById('llm-name').focus();
  };
  const rows = data.providers.map((p) => {
    const toggle = h('input', { type: 'checkbox', checked: p.enabled, 'aria-label': `${p.name} enabled`,
      onchange: () => act(() => api(`/api/llm/providers/${p.id}`, { method: 'PUT', body: { enabled: toggle.checked } }), `${p.name}: ${toggle.checked ? 'enabled' : 'disabled'}`) });
    const testButton = h('button', { type: 'button', 'data-action': 'test', onclick: () => test(p, testButton) }, 'Test');
    return h('tr', { 'data-provider': p.name, 'data-id': p.id },
      h('td', {}, h('strong', {}, p.name)), h('td', { 'data-field': 'type' }, p.type), h('td', { 'data-field': 'tier' }, p.tier),
      h('td', { 'data-field': 'model' }, p.model),
      h('td', { 'data-field': 'where' }, LLM_CLOUD[p.type] ? h('span', { class: 'status-running' }, llmWhere(p)) : llmWhere(p)),
      h('td', { 'data-field': 'key' }, llmKeyState(p)),
      h('td', { 'data-field': 'enabled' }, h('label', { class: 'row' }, toggle, p.enabled ? 'yes' : 'no')),
      h('td', { 'data-field': 'priority' }, p.priority),
      h('td', { 'data-field': 'daily_limit' }, llmLimited(p) ? p.daily_limit : h('span', { class: 'muted' }, 'none')),
      h('td', { 'data-field': 'usage' }, llmLimited(p) ? `${p.usage_today} / ${p.daily_limit}` : p.usage_today),
      h('td', { class: 'actions' },
        h('button', { type: 'button', 'data-action': 'edit', onclick: () => edit(p) }, 'Edit'),
        testButton,
        h('button', { type: 'button', 'data-action': 'delete', onclick: () => {
          if (confirm(`Delete the LLM provider ${p.name}?`)) act(() => api(`/api/llm/providers/${p.id}`, { method: 'DELETE' }), `${p.name}: deleted`);
        } }, 'Delete')));
  });
  return [h('h1', {}, 'LLM providers'),
    h('p', { class: 'muted' }, 'Skills ask for a tier (light, medium, heavy, local): the enabled providers of that tier are tried by priority, lowest first, each up to its daily limit. ',
      data.two_factor ? 'Two-factor authentication is on: every change asks for a code.' : ''),
    llmReceivers(data.receivers),
    h('h2', {}, 'Providers'),
    h('p', { class: 'muted', id: 'llm-usage-total' }, `${data.usage_total_today} successful call${data.usage_total_today === 1 ? '' : 's'} today (UTC).`),
    table(['Name', 'Type', 'Tier', 'Model', 'Where', 'API key', 'Enabled', 'Priority', 'Daily limit', 'Usage today', ''], rows),
    testBox,
    form];
}

// --- the Policies page: the rule table and the audit log ---
// Rules are checked by the server with the policy engine's own parser (the CLI and the engine agree with the form);
// its sentence is shown under the field it names. While 2FA is on, every change goes through the 2FA dialog.
const RULE_HELP = {
  rate_limit: { example: { permission: 'web_read', max_calls: 10, window_seconds: 60 },
    text: 'At most max_calls calls per window_seconds, per skill and permission. Without a permission it limits every permission.' },
  time_window: { example: { permission: 'web_read', deny_start_hour: 0, deny_end_hour: 6 },
    text: 'Denies inside [deny_start_hour, deny_end_hour), in UTC hours 0 to 24. Without a permission it denies every permission.' },
  chain_restriction: { example: { caller_pattern: 'dynamic:scraper' },
    text: 'A skill whose caller (dynamic:<name>) contains caller_pattern may not act inside a chain (when another skill invoked it).' },
  permission_override: { example: { permission: 'web_read', action: 'deny', expires_at: '2030-01-01T00:00:00Z' },
    text: 'Denies the permission until expires_at (ISO 8601 with a zone; optional: for ever). "allow" does nothing: an override never grants.' },
};
const RULE_FIELDS = ['name', 'description', 'rule_type', 'priority', 'enabled', 'config'];
// The audit filter's times are UTC, like every time in this UI: a datetime-local value read as UTC.
const utcOf = (local, end) => (local ? `${local.length === 16 ? `${local}:${end ? '59' : '00'}` : local}Z` : '');
const localOf = (iso) => (iso || '').replace(/Z$/, '');

function ruleForm(rule, types, done) {
  const editing = !!rule;
  const errors = {};
  const control = (f, el) => { el.id = `policy-${f}`; el.setAttribute('aria-describedby', `policy-${f}-error`); return el; };
  const errorOf = (f) => (errors[f] = h('p', { class: 'error field-error', id: `policy-${f}-error`, role: 'alert', hidden: true }));
  const name = control('name', h('input', { value: rule?.name ?? '', maxlength: 255, autocomplete: 'off' }));
  const desc = control('description', h('input', { value: rule?.description ?? '', autocomplete: 'off' }));
  const type = control('rule_type', h('select', {}, types.map((t) => h('option', { value: t, selected: (rule?.rule_type ?? types[0]) === t }, t))));
  const prio = control('priority', h('input', { type: 'text', inputmode: 'numeric', value: String(rule?.priority ?? 0) }));
  const enabled = control('enabled', h('input', { type: 'checkbox', checked: rule ? rule.enabled : true }));
  const exampleOf = (t) => JSON.stringify(RULE_HELP[t]?.example ?? {}, null, 2);
  const config = control('config', h('textarea', { rows: 6, spellcheck: 'false' }, rule ? JSON.stringify(rule.config, null, 2) : exampleOf(type.value)));
  const help = h('p', { class: 'muted', id: 'policy-config-help' }, RULE_HELP[type.value]?.text ?? '');
  let shown = rule ? null : config.value; // the example on show, replaced when the type changes (an edited text stays)
  type.addEventListener('change', () => {
    help.textContent = RULE_HELP[type.value]?.text ?? '';
    if (config.value === shown || config.value.trim() === '') { config.value = exampleOf(type.value); shown = config.value; }
  });
  const save = h('button', { type: 'submit', class: 'primary', id: 'policy-save' }, editing ? 'Save rule' : 'Add rule');
  const submit = async (ev) => {
    ev.preventDefault();
    for (const e of Object.values(errors)) { e.hidden = true; e.textContent = ''; }
    // sent as typed: the server refuses what is wrong and says why (a priority that is no integer included)
    const p = prio.value.trim();
    const body = { name: name.value.trim(), description: desc.value.trim() || null, rule_type: type.value,
      config: config.value, priority: /^-?\d{1,9}$/.test(p) ? Number(p) : p === '' ? 0 : p, enabled: enabled.checked };
    save.disabled = true;
    try {
      if (editing) await api(`/api/policies/${rule.id}`, { method: 'PUT', body });
      else await api('/api/policies', { method: 'POST', body });
      done(editing ? `Saved rule ${body.name}` : `Added rule ${body.name}`);
    } catch (e) {
      save.disabled = false;
      const f = e.data?.field;
      if (f && errors[f]) {
        errors[f].textContent = e.message;
        errors[f].hidden = false;
        document.getElementById(`policy-${f}`)?.focus();
      } else fail(e);
    }
  };
  // the field's own error sentence right under it (a div: a label may not hold a paragraph)
  const labelled = (f, label, el, ...more) => h('div', { class: 'field' }, h('label', { for: `policy-${f}` }, label), el, errorOf(f), ...more);
  return h('form', { class: 'card policy-form', id: 'policy-form', novalidate: true, onsubmit: submit, 'data-editing': editing ? String(rule.id) : null },
    h('h2', { id: 'policy-form-title' }, editing ? `Edit rule #${rule.id}` : 'New rule'),
    h('div', { class: 'grid' },
      labelled('name', 'Name', name), labelled('description', 'Description (optional)', desc),
      labelled('rule_type', 'Type', type), labelled('priority', 'Priority (higher first)', prio)),
    h('label', { class: 'row', for: 'policy-enabled' }, enabled, 'Enabled'), errorOf('enabled'),
    labelled('config', 'Config (JSON object)', config, help),
    h('div', { class: 'row' }, save,
      editing ? h('button', { type: 'button', id: 'policy-cancel', onclick: () => done(null) }, 'Cancel') : null));
}

async function policies() {
  const { policies: rules, rule_types: types, permissions, two_factor: twoFactor } = await api('/api/policies');
  const act = async (fn, ok) => { try { await fn(); message(ok); render(); } catch (e) { fail(e); } };
  let form = ruleForm(null, types, (said) => { message(said); render(); });
  const edit = (r) => {
    const next = ruleForm(r, types, (said) => { if (said) { message(said); render(); } else { form.replaceWith(form = ruleForm(null, types, (s) => { message(s); render(); })); } });
    form.replaceWith(next);
    form = next;
    form.scrollIntoView({ block: 'start' });
    document.getElementById('policy-name').focus();
  };
  const rows = rules.map((r) => h('tr', { 'data-rule': r.name, 'data-id': r.id },
    h('td', {}, r.priority),
    h('td', {}, h('strong', {}, r.name), r.description ? h('div', { class: 'muted' }, r.description) : null,
      r.valid ? null : h('div', { class: 'status-failed' }, `Skipped by the engine: ${r.problem}`)),
    h('td', {}, r.rule_type),
    h('td', {}, h('code', { class: 'config' }, JSON.stringify(r.config))),
    h('td', { 'data-field': 'enabled' }, r.enabled ? 'yes' : 'no'),
    h('td', { class: 'actions' },
      h('button', { type: 'button', 'data-action': 'edit', onclick: () => edit(r) }, 'Edit'),
      h('button', { type: 'button', 'data-action': r.enabled ? 'disable' : 'enable',
        onclick: () => act(() => api(`/api/policies/${r.id}/${r.enabled ? 'disable' : 'enable'}`, { method: 'POST' }), `${r.name}: ${r.enabled ? 'disabled' : 'enabled'}`) },
      r.enabled ? 'Disable' : 'Enable'),
      h('button', { type: 'button', 'data-action': 'delete', onclick: () => {
        if (confirm(`Delete the policy rule ${r.name}?`)) act(() => api(`/api/policies/${r.id}`, { method: 'DELETE' }), `${r.name}: deleted`);
      } }, 'Delete'))));

  // the audit log: the chain's check, the filters, a page of rows (newest first)
  const q = new URLSearchParams(location.search);
  let cur = Object.fromEntries(['decision', 'caller', 'permission', 'from', 'to', 'before'].map((k) => [k, q.get(k) || '']));
  let verdict = null;
  const newer = []; // the pages walked through with Older, to go back
  const verifyBox = h('div', { id: 'audit-verify' });
  const auditBox = h('div', { id: 'audit' });
  const runVerify = async () => {
    verifyBox.removeAttribute('data-ok');
    verifyBox.replaceChildren(h('p', { class: 'muted' }, 'Checking the audit chain…'));
    try {
      const v = verdict = await api('/api/audit/verify');
      verifyBox.dataset.ok = v.ok ? 'true' : 'false';
      verifyBox.replaceChildren(h('p', { class: `msg ${v.ok ? 'ok' : 'error'}`, id: 'audit-verify-line' }, v.ok
        ? `Audit chain intact: ${v.rows} row${v.rows === 1 ? '' : 's'} checked${v.rows ? ` (ids ${v.first_id} to ${v.last_id})` : ''}, at ${v.checked_at}.`
        : `Audit chain BROKEN: ${v.problem}${v.bad_id ? ` (at row ${v.bad_id})` : ''}; ${v.rows} row${v.rows === 1 ? '' : 's'} read, at ${v.checked_at}.`));
    } catch (e) {
      verdict = null;
      verifyBox.dataset.ok = 'unknown';
      verifyBox.replaceChildren(h('p', { class: 'msg error', id: 'audit-verify-line' }, `The audit chain could not be checked: ${e.message}`));
    }
  };
  const loadAudit = async (f) => {
    cur = f;
    const p = new URLSearchParams(Object.entries(f).filter(([, v]) => v));
    if (location.pathname === '/policies') history.replaceState(null, '', `/policies${p.toString() ? `?${p}` : ''}`);
    let a;
    try { a = await api(`/api/audit?${p}`); } catch (e) {
      auditBox.replaceChildren(h('p', { class: 'error', role: 'alert', id: 'audit-error' }, e.message));
      return;
    }
    const bad = verdict && !verdict.ok ? verdict.bad_id : null;
    const lines = a.entries.map((e) => h('tr', { 'data-id': e.id, class: e.id === bad ? 'bad' : null },
      h('td', {}, e.id), h('td', { class: 'nowrap' }, e.count > 1 ? `${e.at} … ${e.last_at}` : e.at),
      h('td', {}, h('span', { class: `decision-${e.decision}` }, e.decision)),
      h('td', {}, e.caller, h('div', { class: 'muted' }, e.caller_type)), h('td', {}, e.permission),
      h('td', {}, e.count), h('td', {}, e.reason ?? ''), h('td', {}, e.run_id ? link(`/runs?id=${e.run_id}`, `#${e.run_id}`) : ''),
      h('td', {}, e.chain_depth)));
    auditBox.replaceChildren(
      table(['ID', 'Time (UTC)', 'Decision', 'Caller', 'Permission', 'Count', 'Reason', 'Run', 'Depth'], lines),
      h('div', { class: 'row pager' },
        f.before ? h('button', { type: 'button', id: 'audit-newer', onclick: () => loadAudit({ ...cur, before: newer.pop() ?? '' }) }, '← Newer') : null,
        a.next_before ? h('button', { type: 'button', id: 'audit-older', onclick: () => { newer.push(cur.before); loadAudit({ ...cur, before: String(a.next_before) }); } }, 'Older →') : null,
        h('span', { class: 'muted', id: 'audit-count' }, `${a.entries.length} row${a.entries.length === 1 ? '' : 's'}, newest first (${a.limit} a page)`)));
  };
  const decision = h('select', { id: 'audit-decision', 'aria-label': 'Decision' },
    ['', 'deny', 'allow', 'checkpoint'].map((v) => h('option', { value: v, selected: cur.decision === v }, v || 'any decision')));
  const caller = h('input', { id: 'audit-caller', value: cur.caller, placeholder: 'caller contains…', 'aria-label': 'Caller contains' });
  const perm = h('input', { id: 'audit-permission', value: cur.permission, placeholder: 'permission', list: 'permission-list', 'aria-label': 'Permission' });
  const from = h('input', { id: 'audit-from', type: 'datetime-local', value: localOf(cur.from), 'aria-label': 'From (UTC)' });
  const to = h('input', { id: 'audit-to', type: 'datetime-local', value: localOf(cur.to), 'aria-label': 'To (UTC)' });
  const filters = h('form', { class: 'filters', id: 'audit-filters', onsubmit: (ev) => {
    ev.preventDefault();
    newer.length = 0;
    loadAudit({ decision: decision.value, caller: caller.value.trim(), permission: perm.value.trim(), from: utcOf(from.value, false), to: utcOf(to.value, true), before: '' });
  } },
  h('label', { class: 'field' }, 'Decision', decision), h('label', { class: 'field' }, 'Caller', caller),
  h('label', { class: 'field' }, 'Permission', perm), h('label', { class: 'field' }, 'From (UTC)', from),
  h('label', { class: 'field' }, 'To (UTC)', to),
  h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', id: 'audit-apply' }, 'Filter'),
    h('button', { type: 'button', id: 'audit-reset', onclick: () => { for (const el of [caller, perm, from, to]) el.value = ''; decision.value = ''; newer.length = 0; loadAudit({ decision: '', caller: '', permission: '', from: '', to: '', before: '' }); } }, 'Reset')));
  await runVerify();
  await loadAudit(cur);
  return [h('h1', {}, 'Policies'),
    h('p', { class: 'muted' }, 'Policy rules decide what dynamic skills may do through the SkillAPI: enabled rules apply by priority, highest first, and the first denial wins. A change reaches every node at once.',
      twoFactor ? ' Two-factor authentication is on: every change asks for a code.' : ''),
    h('datalist', { id: 'permission-list' }, permissions.map((p) => h('option', { value: p }))),
    table(['Priority', 'Rule', 'Type', 'Config', 'Enabled', ''], rows),
    form,
    h('h2', { id: 'audit-heading' }, 'Audit log'),
    h('p', { class: 'muted' }, 'Every denial (and every allow, with auth.audit.allows) of the policy engine, hash-chained: a changed, removed or added row breaks the chain.'),
    h('div', { class: 'row' }, verifyBox, h('button', { type: 'button', id: 'audit-verify-again', onclick: async () => { await runVerify(); await loadAudit(cur); } }, 'Verify again')),
    filters, auditBox];
}

// The Config page's two-factor section. A setup's key and QR code live only in this section's DOM until the setup
// is confirmed, cancelled or the page changes; they are never logged nor kept elsewhere.
function twofaSection(state) {
  const box = h('section', { id: 'twofa', 'aria-labelledby': 'twofa-heading' });
  const panel = h('div', { id: 'twofa-setup' });
  const refresh = async () => {
    try { box.replaceWith(twofaSection(await api('/api/2fa'))); } catch (e) { fail(e); }
  };
  const showSetup = (setup) => { // {secret, uri, qr_png}
    const key = (setup.secret || '').replace(/(.{4})(?=.)/g, '$1 ');
    const code = h('input', { id: 'twofa-setup-code', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}',
      maxlength: 6, spellcheck: 'false', 'aria-describedby': 'twofa-setup-error' });
    const error = h('p', { class: 'error', id: 'twofa-setup-error', role: 'alert', hidden: true });
    const confirm = h('button', { type: 'submit', class: 'primary', id: 'twofa-setup-confirm' }, 'Confirm');
    const submit = async (ev) => {
      ev.preventDefault();
      const value = code.value.replace(/\s+/g, '');
      if (!/^[0-9]{6}$/.test(value)) { error.textContent = 'Enter the 6 digits your authenticator app shows.'; error.hidden = false; code.focus(); return; }
      confirm.disabled = true;
      try {
        await api('/api/2fa/confirm', { method: 'POST', body: { code: value } });
        panel.replaceChildren(); // the key and the QR code go away with the setup
        message('Two-factor authentication is on.');
        render(); // the section and the settings table
      } catch (e) {
        confirm.disabled = false;
        error.textContent = e.status === 403 ? 'Invalid code: check the time on your phone and try the next code.' : e.message;
        error.hidden = false;
        code.value = '';
        code.focus();
        if (e.status === 409) { panel.replaceChildren(); message(e.message, 'error'); render(); }
      }
    };
    panel.replaceChildren(h('div', { class: 'twofa-setup' },
      h('p', {}, 'Scan the QR code with your authenticator app (or type the key in by hand), then enter the 6-digit code it shows.'),
      state.enabled ? h('p', { class: 'muted' }, 'The current key stays in use until a code of the new one is confirmed.') : null,
      setup.qr_png ? h('img', { id: 'twofa-qr', class: 'qr', src: `data:image/png;base64,${setup.qr_png}`, alt: 'QR code of the new 2FA key', width: 200, height: 200 }) : null,
      h('p', {}, 'Key: ', h('code', { id: 'twofa-key' }, key)),
      setup.uri ? h('p', {}, h('a', { href: setup.uri }, 'Open in an authenticator app on this device')) : null,
      h('form', { class: 'row', novalidate: true, onsubmit: submit },
        h('label', { class: 'field', for: 'twofa-setup-code' }, 'Code from the app', code),
        confirm,
        h('button', { type: 'button', onclick: () => { panel.replaceChildren(); refresh(); } }, 'Cancel')),
      error));
    code.focus();
  };
  const start = async (path) => {
    try {
      const setup = await api(path, { method: 'POST' });
      showSetup(setup);
    } catch (e) { fail(e); }
  };
  const disable = async () => {
    try {
      await api('/api/2fa/disable', { method: 'POST' });
      message('Two-factor authentication is off.');
      render();
    } catch (e) { fail(e); }
  };
  box.append(...[h('h2', { id: 'twofa-heading' }, 'Two-factor authentication'),
    h('p', { id: 'twofa-state', 'data-enabled': state.enabled ? 'true' : 'false' }, 'Two-factor authentication is ',
      h('strong', { class: state.enabled ? 'status-completed' : 'muted' }, state.enabled ? 'on' : 'off'),
      state.enabled ? '. Guarded actions (security settings, the API token, workflows that require 2FA) ask for a code.'
        : '. Turn it on to guard security settings, the API token and workflows that require 2FA with a code.',
      state.telegram ? ' Codes can also be sent to the Telegram bot.' : ''),
    !state.enabled && state.pending_setup ? h('p', { class: 'muted', id: 'twofa-pending' }, 'A setup was started but not confirmed; start again for a new key.') : null,
    state.enabled && state.pending_setup ? h('p', { class: 'muted', id: 'twofa-pending' }, 'A new key was made but not confirmed; the current key stays in use until one is.') : null,
    h('div', { class: 'row' }, state.enabled
      ? [h('button', { type: 'button', id: 'twofa-rekey', onclick: () => start('/api/2fa/setup') }, 'Set up again (new key)'),
        h('button', { type: 'button', id: 'twofa-disable', onclick: disable }, 'Disable 2FA')]
      : h('button', { type: 'button', class: 'primary', id: 'twofa-start', onclick: () => start('/api/2fa/setup') }, 'Set up 2FA')),
    panel].filter((x) => x));
  return box;
}

async function config() {
  const [{ settings }, twofa] = await Promise.all([api('/api/settings'), api('/api/2fa')]);
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
  out.push(twofaSection(twofa));
  for (const [cat, rows] of Object.entries(groups).sort()) {
    out.push(h('h2', {}, cat), table(['Key', 'Value', 'New value', ''], rows.map((s) => {
      const managed = s.key.startsWith('auth.totp.'); // only /api/2fa changes these
      const input = s.type === 'boolean'
        ? h('select', { 'aria-label': s.key }, h('option', { value: 'true', selected: s.value === 'true' }, 'true'), h('option', { value: 'false', selected: s.value === 'false' }, 'false'))
        : h('input', { 'aria-label': s.key, type: s.sensitive ? 'password' : 'text', autocomplete: 'off', placeholder: s.sensitive ? (s.set ? 'unchanged' : 'not set') : '', value: s.sensitive ? '' : (s.value ?? '') });
      return h('tr', { 'data-key': s.key },
        h('td', {}, h('code', {}, s.key), h('div', { class: 'muted' }, s.description)),
        // no part of a 2FA key is shown, not even the masked ends
        h('td', { class: 'value' }, !s.readable ? h('span', { class: 'status-failed' }, 'unreadable')
          : managed && s.sensitive ? h('span', { class: 'muted nowrap' }, s.set || s.value ? 'set' : 'not set') : (s.value ?? '')),
        managed ? h('td', { colspan: 2, class: 'muted' }, 'Changed under Two-factor authentication above.') : h('td', {}, input),
        managed ? null : h('td', {}, h('button', { type: 'button', onclick: async () => {
          if (s.sensitive && input.value === '') { message(`${s.key}: left unchanged`); return; }
          // a guarded setting goes through the 2FA dialog while 2FA is on
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

const pages = { '/': dashboard, '/workflows': workflows, '/runs': runs, '/cluster': cluster, '/skills': skills, '/llm': llm, '/policies': policies, '/config': config, '/logs': logs };

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
