// tests/browser/ui.mjs - the admin UI in real headless Chromium (Debian's), driven by playwright-core.
// Signs in, uses the Policies page (the audit log seeded here with a valid chain, its check, filters and pages; a
// rule refused under its field, then added, disabled, enabled, edited, deleted; a row changed with SQL shown as the
// break), imports a workflow that requires 2FA (refused to run while 2FA is off), sets up 2FA on the Config page
// with a TOTP code computed here, creates a two-step workflow, enables and runs it, follows the run to its branch path,
// changes a guarded setting through the 2FA dialog (a wrong code first), cancels dialogs (button and Escape), runs out
// of attempts, meets a replaced challenge, runs the 2FA workflow through the dialog, makes an API token through it,
// saves a secret on the Config page and sees it masked, gets a new 2FA key through the dialog, uses the Skills page (a
// skill file picked and uploaded, its load refused while 2FA is off, a file the loader refuses, a load and an unload
// through the dialog), uses the LLM page (a cloud provider written with SQL named as a receiver of data with a warning,
// then disabled; a provider added through the form on a loopback fake server, tests/support/fake_llm.py, its key
// shown masked, its Test showing the fake's answer, its name in the "receives your data" box), reads the logs, signs
// out. Fails on any console error (a Content-Security-Policy violation shows up as one) or uncaught page error. Saves
// a screenshot of every page (and of the 2FA setup and dialog) into AC_SCREENSHOTS.
// Environment: AC_WEB_URL, AC_ADMIN_PASSWORD, AC_SCREENSHOTS, AC_CHROMIUM (default /usr/bin/chromium), the node's
// DATABASE_URL and SECRET_KEY_BASE (the audit log is written here with psql), and AC_SOURCE_DIR (the fake LLM server).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { createHmac, hkdfSync } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';

const base = process.env.AC_WEB_URL;
const password = process.env.AC_ADMIN_PASSWORD;
const shots = process.env.AC_SCREENSHOTS;
mkdirSync(shots, { recursive: true });

let passed = 0, failed = 0;
function check(what, ok) {
  if (ok) { passed++; console.log(`ok   - ${what}`); } else { failed++; console.log(`FAIL - ${what}`); }
}

// --- TOTP (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits) over a base32 key (RFC 4648) ---
function base32(text) {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const out = [];
  let bits = 0, acc = 0;
  for (const ch of text.replace(/[\s=]/g, '').toUpperCase()) {
    const v = abc.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${ch}`);
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) { out.push((acc >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  return Buffer.from(out);
}
function totp(key, step) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', key).update(msg).digest();
  const o = mac[mac.length - 1] & 0x0f;
  const bin = ((mac[o] & 0x7f) << 24) | (mac[o + 1] << 16) | (mac[o + 2] << 8) | mac[o + 3];
  return String(bin % 1000000).padStart(6, '0');
}
// The server takes a code of the step before, the current one or the next, each step once and only ever later ones.
// Tests use the current step or the next only (a code of the step before may fall out of the window on its way):
// the earliest of those later than the last one used; when both are used, wait for the next step.
const stepNow = (ms = 0) => Math.floor((Date.now() + ms) / 30000);
let lastStep = -1;
async function nextCode(key) {
  for (;;) {
    const step = Math.max(lastStep + 1, stepNow(3000));
    if (step <= stepNow() + 1) { lastStep = step; return totp(key, step); }
    await new Promise((r) => setTimeout(r, 30000 - (Date.now() % 30000) + 200));
  }
}
// A code of the current step for the Skills page's approvals (never the step before): the replay guard (each step is
// taken once; the approvals above go through it) is rewound to the step before, so these need not wait for a step
// nobody took yet.
function stepCode(key) {
  const now = stepNow();
  psql(`UPDATE totp_steps SET last_step = ${now - 1} WHERE id = 1`);
  lastStep = now;
  return totp(key, now);
}
// A code that is wrong for every step the server would take now.
function wrongCode(key) {
  const valid = new Set([-1, 0, 1, 2].map((d) => totp(key, stepNow() + d)));
  for (let n = 0; ; n++) { const c = String(n).padStart(6, '0'); if (!valid.has(c)) return c; }
}

// --- the audit log, written here as the node would (policy/audit.h): run.sh exports the node's DATABASE_URL and
// SECRET_KEY_BASE. Each row's hash is HMAC-SHA256 over "row\0", the previous hash and its length-prefixed columns,
// under HKDF-SHA256(SECRET_KEY_BASE, 32 zero bytes, "AlexClaw.Auth.AuditChain"); the chain's ends carry marks.
function psql(sql) {
  return execFileSync('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', process.env.DATABASE_URL], { input: sql, encoding: 'utf8' });
}
function seedAudit(n) {
  const key = Buffer.from(hkdfSync('sha256', process.env.SECRET_KEY_BASE, Buffer.alloc(32), 'AlexClaw.Auth.AuditChain', 32));
  const int = (v) => { const b = Buffer.alloc(8); b.writeBigInt64BE(BigInt(v)); return b; };
  const str = (v) => {
    if (v === null) return Buffer.from([0xff, 0xff, 0xff, 0xff]);
    const d = Buffer.from(v, 'utf8'), l = Buffer.alloc(4);
    l.writeUInt32BE(d.length);
    return Buffer.concat([l, d]);
  };
  const mac = (...parts) => createHmac('sha256', key).update(Buffer.concat(parts)).digest();
  const callers = [['dynamic:notes', 'memory_read', 'allow', null], ['dynamic:scraper', 'web_read', 'deny', 'rate limit exceeded'],
    ['dynamic:mailer', 'telegram_send', 'deny', 'outside hours']];
  const t0 = Math.floor(Date.now() / 60000) * 60 - 2 * 86400;
  let prev = Buffer.alloc(32), sql = 'BEGIN;\n';
  for (let id = 1; id <= n; id++) {
    const [caller, perm, decision, reason] = callers[id % 3], at = t0 + id * 60;
    const hash = mac(Buffer.from('row\0'), prev, int(id), str(caller), str('dynamic'), str(perm), str(decision), str(reason),
      int(0), int(0), int(at), int(1), int(at));
    sql += `INSERT INTO auth_audit_log (id, caller, caller_type, permission, decision, reason, chain_depth, inserted_at, count, last_at, prev_hash, hash)
      VALUES (${id}, '${caller}', 'dynamic', '${perm}', '${decision}', ${reason === null ? 'NULL' : `'${reason}'`}, 0,
      to_timestamp(${at}) AT TIME ZONE 'utc', 1, to_timestamp(${at}) AT TIME ZONE 'utc', '\\x${prev.toString('hex')}', '\\x${hash.toString('hex')}');\n`;
    prev = hash;
  }
  const first = mac(Buffer.from('mark\0'), str('first'), int(1), Buffer.alloc(32));
  const last = mac(Buffer.from('mark\0'), str('last'), int(n), prev);
  sql += `UPDATE auth_audit_ends SET first_id = 1, first_mark = '\\x${first.toString('hex')}', last_id = ${n},
    last_hash = '\\x${prev.toString('hex')}', last_mark = '\\x${last.toString('hex')}';
    SELECT setval('auth_audit_log_id_seq', ${n});\nCOMMIT;\n`;
  psql(sql);
}

// A dynamic skill for the Skills page, with a description no page may treat as HTML.
const SKILL_SRC = "skill = { name = 'browser_hello', version = '1', description = 'says hi <img src=x onerror=alert(1)>',\n" +
  "  permissions = { 'memory_read' } }\nfunction run(args) return true, 'hi' end\n";

check('TOTP here matches RFC 6238 (SHA-1, T=59)', totp(Buffer.from('12345678901234567890'), 1) === '287082' &&
  totp(base32('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'), 1) === '287082');

// The loopback LLM provider (tests/support/fake_llm.py): it prints "PORT <n>" first and exits when its stdin closes.
const fakeLlm = spawn('python3', [`${process.env.AC_SOURCE_DIR}/tests/support/fake_llm.py`, '--exit-on-stdin-eof'],
  { stdio: ['pipe', 'pipe', 'ignore'] });
const fakeLlmUrl = await new Promise((resolve, reject) => {
  let out = '';
  const timer = setTimeout(() => reject(new Error('fake_llm.py did not say its port')), 15000);
  fakeLlm.stdout.on('data', (d) => {
    out += d;
    const m = out.match(/^PORT (\d+)\n/);
    if (m) { clearTimeout(timer); resolve(`http://127.0.0.1:${m[1]}`); }
  });
  fakeLlm.on('exit', () => { clearTimeout(timer); reject(new Error('fake_llm.py exited')); });
});
fakeLlm.stdout.resume();
const LLM_KEY = 'sk-browser-llm-secret-2468';
const LLM_NAME = 'Browser echo <b>x</b>'; // a name no page may treat as HTML

const browser = await chromium.launch({
  executablePath: process.env.AC_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const problems = [];
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  // the wrong password's 401 page is expected; anything else the console reports as an error is not
  // 403s are the 2FA challenges and refusals, the 404 the replaced challenge this test provokes on purpose
  const consoleLines = [];
  page.on('console', (m) => {
    consoleLines.push(m.text());
    // 422: the rules the Policies test makes refused on purpose
    if (m.type() === 'error' && !/status of (40[134]|422)/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const shot = (name, fullPage = true) => page.screenshot({ path: `${shots}/${name}.png`, fullPage }); // a dialog: the viewport

  // sign in
  await page.goto(`${base}/`);
  check('without a session the UI goes to the login page', new URL(page.url()).pathname === '/login');
  await shot('01-login');
  await page.fill('#password', 'not the password');
  await page.click('button[type=submit]');
  check('a wrong password is refused on the page', (await page.textContent('.error')).includes('Invalid password'));
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
  await page.waitForSelector('h1:text("Dashboard")');
  check('signed in: the dashboard', true);
  await page.waitForSelector('.card');
  check('the dashboard says why Telegram is off', (await page.textContent('#telegram-note')).includes('telegram.bot_token'));
  await shot('02-dashboard');

  const dialog = page.locator('dialog#twofa-dialog');
  const flashError = page.locator('main > .msg.flash.error');
  // clicks, waits for the 2FA dialog, checks it is set up for a person, answers it with code
  async function approveWith(code) {
    await dialog.waitFor();
    await page.fill('#twofa-code', code);
    await page.click('#twofa-confirm');
  }

  // the Policies page (2FA is still off): the audit log with its chain check, a rule made through the form (a refused
  // config first), disabled, enabled, edited and deleted; then a row changed with SQL breaks the chain
  seedAudit(60);
  await page.click('nav a[data-page=policies]');
  await page.waitForSelector('h1:text("Policies")');
  await page.waitForSelector('#audit-verify[data-ok]');
  check(`the chain's check is shown: intact (${await page.textContent('#audit-verify')})`,
    (await page.getAttribute('#audit-verify', 'data-ok')) === 'true' && (await page.textContent('#audit-verify')).includes('intact: 60 rows'));
  const auditRows = page.locator('#audit tbody tr[data-id]');
  check('the audit log shows a page of 50 rows, newest first',
    (await auditRows.count()) === 50 && (await auditRows.first().getAttribute('data-id')) === '60');
  await page.click('#audit-older');
  await page.waitForSelector('#audit tbody tr[data-id="10"]');
  check('Older shows the 10 older rows', (await auditRows.count()) === 10 && (await page.locator('#audit-older').count()) === 0);
  await page.click('#audit-newer');
  await page.waitForSelector('#audit tbody tr[data-id="60"]');
  await page.selectOption('#audit-decision', 'deny');
  await page.fill('#audit-caller', 'SCRAPER');
  await page.click('#audit-apply');
  await page.waitForFunction(() => document.querySelectorAll('#audit tbody tr[data-id]').length === 20);
  const callersShown = new Set(await page.locator('#audit tbody tr[data-id] td:nth-child(4)').allTextContents());
  check(`filters: denials of callers containing "scraper" (${[...callersShown].join(', ')})`,
    callersShown.size === 1 && [...callersShown][0].startsWith('dynamic:scraper') && new URL(page.url()).searchParams.get('caller') === 'SCRAPER');
  await shot('02a-policies-audit');
  await page.click('#audit-reset');
  await page.waitForFunction(() => document.querySelectorAll('#audit tbody tr[data-id]').length === 50);

  await page.fill('#policy-name', 'browser_rate');
  await page.selectOption('#policy-rule_type', 'time_window');
  check('choosing a type shows its example config', (await page.inputValue('#policy-config')).includes('deny_start_hour') &&
    (await page.textContent('#policy-config-help')).includes('UTC'));
  await page.selectOption('#policy-rule_type', 'rate_limit');
  await page.fill('#policy-config', '{"permission": "web_read", "max_calls": 0}');
  await page.click('#policy-save');
  await page.waitForSelector('#policy-config-error:not([hidden])');
  const cfgError = await page.textContent('#policy-config-error');
  check(`a refused config: the server's sentence under the config field (${cfgError})`,
    cfgError.includes('max_calls: must be an integer from 1') &&
    await page.$eval('#policy-config-error', (e) => e.parentElement.contains(document.getElementById('policy-config'))) &&
    await page.evaluate(() => document.activeElement?.id === 'policy-config'));
  await shot('02b-policies-refused');
  await page.fill('#policy-config', '{"permission": "web_read", "max_calls": 5, "window_seconds": 60}');
  await page.fill('#policy-priority', 'high');
  await page.click('#policy-save');
  await page.waitForSelector('#policy-priority-error:not([hidden])');
  check('a priority that is no number is refused under its field', (await page.textContent('#policy-priority-error')).includes('priority: an integer') &&
    (await page.locator('#policy-config-error').isHidden()));
  await page.fill('#policy-priority', '4');
  await page.click('#policy-save');
  const rule = page.locator('tr[data-rule="browser_rate"]');
  await rule.waitFor();
  check('the rule was added, enabled', (await rule.locator('td[data-field=enabled]').textContent()) === 'yes' &&
    (await rule.textContent()).includes('"max_calls":5'));
  await rule.locator('button[data-action=disable]').click();
  await page.waitForSelector('tr[data-rule="browser_rate"] td[data-field=enabled]:text("no")');
  check('disabled', true);
  await rule.locator('button[data-action=enable]').click();
  await page.waitForSelector('tr[data-rule="browser_rate"] td[data-field=enabled]:text("yes")');
  check('enabled again', true);
  await rule.locator('button[data-action=edit]').click();
  await page.waitForSelector('#policy-form-title:text("Edit rule")');
  check('Edit fills the form with the rule', (await page.inputValue('#policy-name')) === 'browser_rate' &&
    (await page.inputValue('#policy-priority')) === '4' && JSON.parse(await page.inputValue('#policy-config')).max_calls === 5);
  await page.fill('#policy-priority', '9');
  await page.fill('#policy-config', '{"permission": "web_read", "max_calls": 3, "window_seconds": 60}');
  await page.click('#policy-save');
  await rule.filter({ hasText: '"max_calls":3' }).waitFor();
  check('the edit was saved', (await rule.locator('td').first().textContent()) === '9');
  await shot('02c-policies');
  page.once('dialog', (d) => d.accept()); // "Delete the policy rule ...?"
  await rule.locator('button[data-action=delete]').click();
  await rule.waitFor({ state: 'detached' });
  check('deleted', (await page.locator('tr[data-rule]').count()) === 0);

  psql("UPDATE auth_audit_log SET reason = 'nothing happened' WHERE id = 42");
  await page.click('#audit-verify-again');
  await page.waitForSelector('#audit-verify[data-ok=false]');
  const broken = await page.textContent('#audit-verify');
  check(`after a row was changed with SQL the check says where the chain broke (${broken})`,
    broken.includes('BROKEN') && broken.includes('(at row 42)'));
  await page.waitForSelector('#audit tr[data-id="42"].bad');
  check('and the row is marked in the log', true);
  await shot('02d-policies-broken');
  psql("UPDATE auth_audit_log SET reason = 'rate limit exceeded' WHERE id = 42");

  // the LLM page (2FA is still off): a cloud provider written with SQL is named as a receiver of data, with a
  // warning; disabled, it receives nothing. A provider added through the form on the fake server: its key is never
  // shown, Test shows the fake's answer, and the box says where its prompts go.
  psql("DELETE FROM llm_providers; INSERT INTO llm_providers (name, type, tier, model, enabled, priority) " +
    "VALUES ('Browser Claude', 'anthropic', 'medium', 'claude-x', true, 20)");
  await page.click('nav a[data-page=llm]');
  await page.waitForSelector('h1:text("LLM providers")');
  const claude = page.locator('tr[data-provider="Browser Claude"]');
  check('the LLM page lists the providers', (await claude.locator('td[data-field=where]').textContent()) === 'cloud: Anthropic' &&
    (await claude.locator('td[data-field=key]').textContent()) === 'none');
  check(`the "receives your data" box names the cloud provider (${await page.textContent('#llm-receivers-list')})`,
    (await page.textContent('#llm-receivers li[data-provider="Browser Claude"]')).includes('Anthropic (api.anthropic.com)'));
  check('and warns that prompts leave the machine', (await page.textContent('#llm-cloud-warning')).includes('Anthropic'));
  await shot('04a-llm-cloud');
  await claude.locator('td[data-field=enabled] input').uncheck();
  await page.waitForSelector('#llm-receivers[data-cloud=false]');
  check('a disabled cloud provider receives nothing: no warning',
    (await page.locator('#llm-cloud-warning').count()) === 0 && (await page.locator('#llm-receivers-none').count()) === 1);
  await page.selectOption('#llm-type', 'openai_compatible');
  await page.selectOption('#llm-tier', 'local');
  await page.fill('#llm-name', LLM_NAME);
  await page.fill('#llm-host', fakeLlmUrl);
  await page.fill('#llm-model', 'browser-model');
  await page.fill('#llm-api_key', LLM_KEY);
  await page.fill('#llm-daily_limit', 'ten');
  await page.click('#llm-save');
  await page.waitForSelector('#llm-daily_limit-error:not([hidden])');
  check(`a refused field says why under it (${await page.textContent('#llm-daily_limit-error')})`,
    (await page.textContent('#llm-daily_limit-error')).includes('daily_limit'));
  await page.fill('#llm-daily_limit', '50');
  await page.click('#llm-save');
  const echo = page.locator(`tr[data-provider="${LLM_NAME}"]`);
  await echo.waitFor();
  check('the provider added through the form is listed, its name as text',
    (await echo.locator('td strong').textContent()) === LLM_NAME && (await echo.locator('td b').count()) === 0);
  check('its key shows as set, never in clear', (await echo.locator('td[data-field=key]').textContent()) === 'set' &&
    !(await page.content()).includes(LLM_KEY));
  check('where its prompts go: the fake server on this machine',
    (await echo.locator('td[data-field=where]').textContent()) === fakeLlmUrl.replace('http://', '') &&
    (await page.textContent(`#llm-receivers li[data-provider="${LLM_NAME}"]`)).includes('this machine'));
  await echo.locator('button[data-action=edit]').click();
  check('editing it, the key field shows the mask only',
    (await page.inputValue('#llm-api_key')) === '********' && (await page.getAttribute('#llm-api_key', 'type')) === 'password');
  await page.click('#llm-cancel');
  await echo.locator('button[data-action=test]').click();
  await page.waitForSelector('#llm-test-result');
  const answer = await page.textContent('#llm-test-result');
  check(`Test shows the fake server's answer (${answer})`, answer.includes('answered in') &&
    (await page.textContent('#llm-test-text')).startsWith('echo: '));
  await shot('04b-llm');
  await page.click('nav a[data-page=llm]'); // the page drawn again: the usage as the server has it now
  const counted = await echo.locator('td[data-field=usage]', { hasText: /^1 \/ 50$/ }).waitFor({ timeout: 10000 })
    .then(() => true, () => false);
  check(`the test counts as a call today (${await echo.locator('td[data-field=usage]').textContent()})`, counted);

  // a workflow that requires 2FA, imported and enabled while 2FA is off: Run now is refused until 2FA is set up
  await page.click('nav a[data-page=workflows]');
  await page.waitForSelector('h1:text("Workflows")');
  await shot('03-workflows-empty');
  await page.fill('#import-json', JSON.stringify({ version: 1,
    workflow: { name: 'browser_2fa', description: 'needs a code', metadata: { requires_2fa: true } },
    steps: [{ position: 1, name: 'nothing', skill: 'no_such_skill', config: { on_missing_skill: 'skip' } }] }));
  await page.click('#import');
  const row2fa = page.locator('tr', { hasText: 'browser_2fa' });
  await row2fa.waitFor();
  check('a workflow that requires 2FA was imported', (await row2fa.locator('td').nth(4).textContent()) === 'yes');
  await row2fa.locator('button', { hasText: 'Enable' }).click();
  await row2fa.locator('button', { hasText: 'Disable' }).waitFor();
  check('while 2FA is off, enabling it needs no code', (await dialog.count()) === 0);
  await row2fa.locator('button', { hasText: 'Run now' }).click();
  await flashError.waitFor();
  check(`while 2FA is off, Run now says to set up 2FA (${await flashError.textContent()})`,
    (await flashError.textContent()).includes('set up 2FA first'));

  // the Skills page while 2FA is off: core skills with their breakers; a skill file picked from "this computer" is
  // uploaded (written, not loaded); loading it is refused with the sentence that says to turn on 2FA first
  await page.click('nav a[data-page=skills]');
  await page.waitForSelector('h1:text("Skills")');
  check('the Skills page lists the core skills with their circuit breakers',
    (await page.locator('tr[data-skill="shell"] td[data-field=kind]').textContent()) === 'core' &&
    (await page.locator('tr[data-skill="shell"] td[data-field=permissions]').textContent()) === 'all (core)' &&
    (await page.locator('tr[data-skill="shell"] td[data-field=breaker]').textContent()).startsWith('closed'));
  check('it says loading needs 2FA, which is off', (await page.getAttribute('#skills-state', 'data-two-factor')) === 'false' &&
    (await page.textContent('#skills-state')).includes('turn on two-factor authentication'));
  await page.setInputFiles('#skill-file', { name: 'browser_hello.lua', mimeType: 'text/plain', buffer: Buffer.from(SKILL_SRC) });
  await page.waitForFunction(() => document.getElementById('skill-filename')?.value === 'browser_hello.lua');
  check('picking a file fills in its name and source', (await page.inputValue('#skill-source')) === SKILL_SRC);
  await page.click('#skill-upload');
  await page.waitForSelector('tr[data-file="browser_hello.lua"]');
  check(`the upload is listed, not loaded (${await page.textContent('main > .msg.flash')})`,
    (await page.textContent('main > .msg.flash.ok')).includes('not loaded') &&
    (await page.textContent('tr[data-file="browser_hello.lua"] td[data-field=loaded_as]')) === '');
  await page.fill('#skill-filename', '../evil.lua');
  await page.fill('#skill-source', 'skill = { name = "evil" }');
  await page.click('#skill-upload');
  await page.waitForSelector('#skill-filename-error:not([hidden])');
  check(`a bad file name is refused under its field (${await page.textContent('#skill-filename-error')})`,
    (await page.textContent('#skill-filename-error')).includes('invalid_filename'));
  await page.locator('tr[data-file="browser_hello.lua"] button[data-action=load]').click();
  await flashError.waitFor();
  check(`while 2FA is off a load is refused and says why (${await flashError.textContent()})`,
    (await flashError.textContent()).includes('turn on two-factor authentication first') && (await dialog.count()) === 0 &&
    (await page.locator('tr[data-skill="browser_hello"]').count()) === 0);
  await shot('03c-skills-2fa-off');

  // set up 2FA on the Config page: the QR code and the key, a code computed here confirms it
  await page.click('nav a[data-page=config]');
  await page.waitForSelector('h1:text("Config")');
  check('the Config page says 2FA is off', (await page.getAttribute('#twofa-state', 'data-enabled')) === 'false' &&
    (await page.textContent('#twofa-state')).includes('is off'));
  check('the auth.totp settings are not editable in the table',
    (await page.locator('tr[data-key="auth.totp.secret"]').count()) === 1 && (await page.locator('tr[data-key="auth.totp.secret"] input, tr[data-key="auth.totp.secret"] button').count()) === 0);
  await page.click('#twofa-start');
  await page.waitForSelector('#twofa-key');
  const key = (await page.textContent('#twofa-key')).replace(/\s+/g, '');
  check(`the setup shows a base32 key (${key.length} characters)`, /^[A-Z2-7]{16,}$/.test(key));
  const qr = await page.getAttribute('#twofa-qr', 'src');
  check('the setup shows the QR code as a data:image/png', /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/.test(qr || ''));
  check('the QR code image loaded', await page.$eval('#twofa-qr', (img) => img.complete && img.naturalWidth > 50));
  check('the setup focuses its code field', await page.evaluate(() => document.activeElement?.id === 'twofa-setup-code'));
  await shot('03a-twofa-setup');
  await page.fill('#twofa-setup-code', await nextCode(base32(key)));
  await page.click('#twofa-setup-confirm');
  await page.waitForSelector('#twofa-state[data-enabled=true]');
  check('after the confirmation the page says 2FA is on', (await page.textContent('#twofa-state')).includes('is on'));
  check('the key and the QR code are gone from the page',
    (await page.locator('#twofa-key, #twofa-qr').count()) === 0 && !(await page.content()).includes(key));
  check('the buttons for a new key and to turn 2FA off are there',
    (await page.locator('#twofa-rekey').count()) === 1 && (await page.locator('#twofa-disable').count()) === 1);
  check('the settings table shows no part of the 2FA key',
    (await page.textContent('tr[data-key="auth.totp.secret"] td.value')) === 'set');
  check('the 2FA section shows nothing stray', !(await page.textContent('#twofa')).includes('null'));
  await shot('03b-twofa-on');

  // create a two-step workflow in the editor, enable it, run it (none of it is guarded: no dialog)
  await page.click('nav a[data-page=workflows]');
  await page.waitForSelector('h1:text("Workflows")');
  await page.click('#new-workflow');
  await page.waitForSelector('h1:text("New workflow")');
  await page.fill('#wf-name', 'browser_two_steps');
  await page.fill('#wf-description', 'made by the browser test');
  await page.click('#add-step');
  await page.click('#add-step');
  const steps = page.locator('fieldset.step');
  check('two step forms', (await steps.count()) === 2);
  const s1 = steps.nth(0), s2 = steps.nth(1);
  await s1.locator('[data-key=name]').fill('notify');
  await s1.locator('[data-key=skill]').fill('telegram_notify');
  await s1.locator('[data-key=config]').fill('{"message": "hello"}');
  await s1.locator('button', { hasText: 'Add route' }).click();
  await s1.locator('.route [data-key=branch]').fill('on_error');
  await s1.locator('.route [data-key=goto]').fill('2');
  await s2.locator('[data-key=name]').fill('fallback');
  await s2.locator('[data-key=skill]').fill('no_such_skill');
  await s2.locator('select[data-key=on_missing_skill]').selectOption('skip');
  await shot('04-editor');
  await page.click('#save-workflow');
  const row = page.locator('tr', { hasText: 'browser_two_steps' });
  await row.waitFor();
  check('the workflow was created (disabled)', (await row.locator('td').nth(1).textContent()) === 'no');
  // edit it: the description changes, the steps stay
  await row.locator('button', { hasText: 'Edit' }).click();
  await page.waitForSelector('h1:text("Edit browser_two_steps")');
  check('the editor shows its two steps', (await page.locator('fieldset.step').count()) === 2);
  check('and the resilience option', (await page.locator('fieldset.step').nth(1).locator('select[data-key=on_missing_skill]').inputValue()) === 'skip');
  await page.fill('#wf-description', 'edited by the browser test');
  await page.click('#save-workflow');
  await page.locator('tr', { hasText: 'edited by the browser test' }).waitFor();
  check('the edit was saved', true);
  await row.locator('button', { hasText: 'Enable' }).click();
  await page.locator('tr', { hasText: 'browser_two_steps' }).locator('button', { hasText: 'Disable' }).waitFor();
  check('enabled', true);
  await shot('05-workflows');
  await page.locator('tr', { hasText: 'browser_two_steps' }).locator('button', { hasText: 'Run now' }).click();
  await page.waitForURL(/\/runs\?id=\d+/);
  check('Run now opens the run', true);
  let status = '';
  for (let i = 0; i < 50; i++) {
    await page.waitForSelector('[data-field=Status]');
    status = await page.textContent('[data-field=Status]');
    if (status !== 'running') break;
    await page.waitForTimeout(200);
    await page.reload();
  }
  check(`the run completed (${status})`, status === 'completed');
  const path = await page.locator('#branch-path span').allTextContents();
  check(`its branch path shows both steps: ${path.join(' | ')}`,
    path.length === 2 && path[0].includes('telegram_notify') && path[0].includes('error') && path[1].includes('skipped'));
  await shot('06-run');
  await page.click('nav a[data-page=runs]');
  await page.waitForSelector('h1:text("Runs")');
  check('the runs page lists it', (await page.locator('tr', { hasText: 'browser_two_steps' }).count()) >= 1);
  await shot('07-runs');

  // the Cluster page: approve a node by name
  await page.click('nav a[data-page=cluster]');
  await page.waitForSelector('h1:text("Cluster")');
  await page.fill('#approve-name', 'friend@localhost');
  await page.click('#approve');
  const node = page.locator('tr[data-node="friend@localhost"]');
  await node.waitFor();
  check('an approved node is listed as approved', (await node.locator('td').nth(2).textContent()) === 'yes');
  await shot('08-cluster');
  check('no 2FA dialog for unguarded actions while 2FA is on', (await dialog.count()) === 0);

  // with 2FA on, a policy rule waits for a code: the dialog says which rule; cancelled, nothing is stored
  await page.click('nav a[data-page=policies]');
  await page.waitForSelector('h1:text("Policies")');
  await page.fill('#policy-name', 'browser_guarded');
  await page.selectOption('#policy-rule_type', 'chain_restriction');
  await page.click('#policy-save');
  await dialog.waitFor();
  check(`a new rule asks for a code and shows it (${await page.textContent('#twofa-description')})`,
    (await page.textContent('#twofa-description')).includes('Add policy rule browser_guarded (chain_restriction'));
  await page.click('#twofa-cancel');
  await dialog.waitFor({ state: 'detached' });
  check('cancelled: the rule was not added', (await flashError.textContent()).includes('cancelled') &&
    (await (await page.request.get(`${base}/api/policies`)).json()).policies.length === 0);

  // a guarded setting: the 2FA dialog, a wrong code (attempts left), then a valid one saves it
  await page.click('nav a[data-page=config]');
  await page.waitForSelector('h1:text("Config")');
  const trow = page.locator('tr[data-key="shell.timeout_seconds"]');
  await trow.locator('input').fill('45');
  await trow.locator('button', { hasText: 'Save' }).click();
  await dialog.waitFor();
  check(`the dialog names the action (${await page.textContent('#twofa-description')})`,
    (await page.textContent('#twofa-description')).includes('shell.timeout_seconds'));
  check('the dialog asks for a code from the app (no Telegram here)',
    (await page.textContent('#twofa-message')).includes('authenticator app') && !(await page.textContent('#twofa-message')).includes('Telegram'));
  check('the code field has focus', await page.evaluate(() => document.activeElement?.id === 'twofa-code'));
  check('the code field is numeric, for one-time codes',
    (await page.getAttribute('#twofa-code', 'inputmode')) === 'numeric' && (await page.getAttribute('#twofa-code', 'autocomplete')) === 'one-time-code');
  await shot('09a-twofa-dialog', false);
  await page.fill('#twofa-code', wrongCode(base32(key)));
  await page.click('#twofa-confirm');
  await page.waitForSelector('#twofa-error:not([hidden])');
  const wrong = await page.textContent('#twofa-error');
  check(`a wrong code: the dialog stays and says how many attempts are left (${wrong})`,
    /Invalid code \(4 attempts left\)/.test(wrong) && (await dialog.count()) === 1);
  await shot('09b-twofa-dialog-wrong-code', false);
  await page.fill('#twofa-code', await nextCode(base32(key)));
  await page.click('#twofa-confirm');
  await page.waitForSelector('main > .msg.flash.ok:has-text("shell.timeout_seconds saved")');
  check('a valid code closes the dialog', (await dialog.count()) === 0);
  await page.waitForFunction(() => document.querySelector('tr[data-key="shell.timeout_seconds"] td.value')?.textContent === '45');
  const stored = (await (await page.request.get(`${base}/api/settings`)).json()).settings.find((x) => x.key === 'shell.timeout_seconds');
  check(`the setting was saved (${stored?.value})`, stored?.value === '45');

  // turning 2FA off: the dialog; Escape cancels it and the page says so
  await page.click('#twofa-disable');
  await dialog.waitFor();
  check('turning 2FA off asks for a code first', (await page.textContent('#twofa-description')).includes('Disable 2FA'));
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  await flashError.waitFor();
  check(`Escape cancels the dialog with an error message (${await flashError.textContent()})`,
    (await flashError.textContent()).includes('cancelled') && (await page.getAttribute('#twofa-state', 'data-enabled')) === 'true');
  // a new API token: the dialog; Cancel cancels it, no token is shown
  await page.click('#rotate-token');
  await dialog.waitFor();
  await page.click('#twofa-cancel');
  await dialog.waitFor({ state: 'detached' });
  check('Cancel closes the dialog with an error message and no token',
    (await flashError.textContent()).includes('cancelled') && (await page.locator('#new-token').count()) === 0);

  // five wrong codes: the challenge is dead, the dialog closes and says so
  await page.click('#twofa-rekey');
  await dialog.waitFor();
  check('a new key asks for a code first', (await page.textContent('#twofa-description')).includes('new secret'));
  for (let i = 4; i >= 1; i--) {
    await page.fill('#twofa-code', wrongCode(base32(key)));
    await page.click('#twofa-confirm');
    await page.waitForSelector(`#twofa-error:has-text("(${i} attempt${i === 1 ? '' : 's'} left)")`);
  }
  check('the dialog counts the attempts down to 1', true);
  await page.fill('#twofa-code', wrongCode(base32(key)));
  await page.click('#twofa-confirm');
  await dialog.waitFor({ state: 'detached' });
  check(`after the last attempt the dialog closes with an error (${await flashError.textContent()})`,
    (await flashError.textContent()).includes('no attempts are left') && (await page.locator('#twofa-key').count()) === 0);
  // a challenge replaced by a newer one (here from another tab) is gone: the dialog closes and says so
  await page.click('#twofa-rekey');
  await dialog.waitFor();
  const other = await page.evaluate(async () => {
    const { csrf_token: csrf } = await (await fetch('/api/session')).json();
    const r = await fetch('/api/2fa/disable', { method: 'POST', headers: { 'X-CSRF-Token': csrf } });
    return { status: r.status, body: await r.json() };
  });
  check(`a guarded call elsewhere answers 403 2fa_required (${other.status} ${other.body.error})`,
    other.status === 403 && other.body.error === '2fa_required' && typeof other.body.challenge === 'string');
  await page.fill('#twofa-code', wrongCode(base32(key)));
  await page.click('#twofa-confirm');
  await dialog.waitFor({ state: 'detached' });
  check(`a replaced challenge: the dialog closes with an error (${await flashError.textContent()})`,
    (await flashError.textContent()).includes('no longer open'));

  // Run now of the workflow that requires 2FA: the dialog, a valid code, the run's id
  await page.click('nav a[data-page=workflows]');
  await page.waitForSelector('h1:text("Workflows")');
  await row2fa.locator('button', { hasText: 'Run now' }).click();
  await dialog.waitFor();
  check(`Run now asks for a code (${await page.textContent('#twofa-description')})`,
    (await page.textContent('#twofa-description')).includes('browser_2fa'));
  await approveWith(await nextCode(base32(key)));
  await page.waitForURL(/\/runs\?id=\d+/);
  const runId = new URL(page.url()).searchParams.get('id');
  await page.waitForSelector(`h1:text("Run #${runId}")`);
  const started = await page.textContent('main > .msg.flash.ok');
  check(`the approved run shows its id (${started})`, started.includes(`#${runId}`));
  await shot('09c-twofa-run');
  await page.click('nav a[data-page=runs]');
  await page.waitForSelector('h1:text("Runs")');
  const runRow = page.locator('tr', { hasText: `#${runId}` });
  check('the runs page lists the approved run', (await runRow.count()) === 1 && (await runRow.textContent()).includes('browser_2fa'));

  // a new API token through the dialog (the next code may be up to 30 s away): shown once, and it works
  await page.click('nav a[data-page=config]');
  await page.waitForSelector('h1:text("Config")');
  const tokenCode = await nextCode(base32(key));
  await page.click('#rotate-token');
  await approveWith(tokenCode);
  await page.waitForSelector('#new-token');
  const token = await page.textContent('#new-token');
  const bearer = await fetch(`${base}/api/status`, { headers: { Authorization: `Bearer ${token}` } });
  check(`the approved token is shown and works (${bearer.status})`, token.length >= 20 && bearer.status === 200);

  // a secret, saved on the Config page, is shown masked (a fresh load of the page: the token approval above
  // re-renders it, and a field filled in the old one would be lost)
  await page.goto(`${base}/config`);
  await page.waitForSelector('tr[data-key="telegram.bot_token"] input');
  const secret = 'ghp-browser-secret-0123456789';
  const srow = page.locator('tr[data-key="telegram.bot_token"]');
  await srow.locator('input').fill(secret);
  await srow.locator('button', { hasText: 'Save' }).click();
  await page.waitForFunction(() =>
    document.querySelector('tr[data-key="telegram.bot_token"] td.value')?.textContent.includes('****'));
  const shown = await page.locator('tr[data-key="telegram.bot_token"] td.value').textContent();
  check(`the secret is shown masked (${shown})`, shown === 'ghp-********6789');
  check('the secret is nowhere in the page', !(await page.content()).includes(secret));
  await shot('09-config');

  // a new key through the dialog (the next code may be up to 30 s away): the approval's answer is a new setup with
  // a new key and QR code; cancelling it keeps 2FA on with the old key
  const rekeyCode = await nextCode(base32(key));
  await page.click('#twofa-rekey');
  await approveWith(rekeyCode);
  await page.waitForSelector('#twofa-key');
  const key2 = (await page.textContent('#twofa-key')).replace(/\s+/g, '');
  check('the approved new setup shows a new key and its QR code', /^[A-Z2-7]{16,}$/.test(key2) && key2 !== key &&
    /^data:image\/png;base64,/.test(await page.getAttribute('#twofa-qr', 'src') || ''));
  await shot('09d-twofa-new-key');
  await page.click('#twofa-setup button:text("Cancel")');
  await page.waitForSelector('#twofa-pending');
  check('cancelled: 2FA stays on, the new key is gone from the page and the section says a new key is pending',
    (await page.getAttribute('#twofa-state', 'data-enabled')) === 'true' && (await page.locator('#twofa-key').count()) === 0 &&
    !(await page.content()).includes(key2));
  check('the 2FA keys never reached the console', !consoleLines.some((l) => l.includes(key) || l.includes(key2)));

  // the Skills page with 2FA on: a file that fails the loader's checks is refused with its sentence (no code asked);
  // the uploaded skill loads through the 2FA dialog, which shows what will run; it is listed with its declaration
  // (its hostile description as text); then it is unloaded through the dialog
  await page.click('nav a[data-page=skills]');
  await page.waitForSelector('h1:text("Skills")');
  await page.fill('#skill-filename', 'browser_broken.lua');
  await page.fill('#skill-source', "skill = { name = 'browser_broken', permissions = { 'root' } }\nfunction run() return true end\n");
  await page.click('#skill-upload');
  await page.waitForSelector('tr[data-file="browser_broken.lua"]');
  await page.locator('tr[data-file="browser_broken.lua"] button[data-action=load]').click();
  await flashError.waitFor();
  check(`a file the loader refuses shows the loader's sentence, no dialog (${await flashError.textContent()})`,
    (await flashError.textContent()).includes('root') && (await dialog.count()) === 0);
  await page.locator('tr[data-file="browser_hello.lua"] button[data-action=load]').click();
  await dialog.waitFor();
  const loadDesc = await page.textContent('#twofa-description');
  check(`the load asks for a code and shows the skill (${loadDesc})`,
    loadDesc.includes('Load the dynamic skill browser_hello version 1 from browser_hello.lua with permissions: memory_read'));
  await shot('09e-skills-load-dialog', false);
  await approveWith(stepCode(base32(key)));
  const skillRow = page.locator('tr[data-skill="browser_hello"]');
  await skillRow.waitFor();
  check(`the approved skill is loaded and listed (${await page.textContent('main > .msg.flash')})`,
    (await page.textContent('main > .msg.flash.ok')).includes('Loaded browser_hello version 1') &&
    (await skillRow.locator('td[data-field=kind]').textContent()) === 'dynamic' &&
    (await skillRow.locator('td[data-field=version]').textContent()) === '1' &&
    (await skillRow.locator('td[data-field=permissions]').textContent()) === 'memory_read');
  check('its description is shown as text, never as HTML',
    (await skillRow.locator('td').first().textContent()).includes('<img src=x onerror=alert(1)>') &&
    (await skillRow.locator('img').count()) === 0);
  check('the file says which skill it is loaded as',
    (await page.textContent('tr[data-file="browser_hello.lua"] td[data-field=loaded_as]')) === 'browser_hello');
  await shot('09f-skills');
  await skillRow.locator('button[data-action=unload]').click();
  await dialog.waitFor();
  check(`the unload asks for a code (${await page.textContent('#twofa-description')})`,
    (await page.textContent('#twofa-description')).includes('Unload the dynamic skill browser_hello'));
  await approveWith(stepCode(base32(key)));
  await skillRow.waitFor({ state: 'detached' });
  check(`the unloaded skill is gone (${await page.textContent('main > .msg.flash')})`,
    (await page.textContent('main > .msg.flash.ok')).includes('Unloaded browser_hello') &&
    (await page.textContent('tr[data-file="browser_hello.lua"] td[data-field=loaded_as]')) === '');

  await page.click('nav a[data-page=logs]');
  await page.waitForSelector('pre.logs');
  check('the logs page shows the ring buffer', (await page.textContent('pre.logs')).includes('module=web'));
  check('the logs do not hold the secret', !(await page.textContent('pre.logs')).includes(secret));
  check('nor the LLM provider\'s key', !(await page.textContent('pre.logs')).includes(LLM_KEY));
  await shot('10-logs');

  // sign out: the session is gone
  await Promise.all([page.waitForURL(`${base}/login`), page.click('#logout')]);
  await page.goto(`${base}/workflows`);
  check('after signing out the UI goes to the login page again', new URL(page.url()).pathname === '/login');
  await shot('11-signed-out');
} catch (e) {
  check(`no exception: ${e.message}`, false);
} finally {
  await browser.close();
  fakeLlm.stdin.end();
  fakeLlm.kill();
}
for (const p of problems) console.log(`  ${p}`);
check('no console errors or page errors (CSP violations included)', problems.length === 0);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
