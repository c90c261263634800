// tests/browser/ui.mjs - the admin UI in real headless Chromium (Debian's), driven by playwright-core.
// Signs in, imports a workflow that requires 2FA (refused to run while 2FA is off), sets up 2FA on the Config page
// with a TOTP code computed here, creates a two-step workflow, enables and runs it, follows the run to its branch path,
// changes a guarded setting through the 2FA dialog (a wrong code first), cancels dialogs (button and Escape), runs out
// of attempts, meets a replaced challenge, runs the 2FA workflow through the dialog, makes an API token through it,
// saves a secret on the Config page and sees it masked, gets a new 2FA key through the dialog, reads the logs, signs
// out. Fails on any console error (a Content-Security-Policy violation shows up as one) or uncaught page error. Saves
// a screenshot of every page (and of the 2FA setup and dialog) into AC_SCREENSHOTS.
// Environment: AC_WEB_URL, AC_ADMIN_PASSWORD, AC_SCREENSHOTS, AC_CHROMIUM (default /usr/bin/chromium).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { createHmac } from 'node:crypto';

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
// The server takes a code of the step before, the current one or the next, each step once and only ever later ones:
// the next code to use is the earliest step still valid a few seconds from now that is later than the last one used;
// when none is left, wait for the next step.
const stepNow = (ms = 0) => Math.floor((Date.now() + ms) / 30000);
let lastStep = -1;
async function nextCode(key) {
  for (;;) {
    const step = Math.max(lastStep + 1, stepNow(3000) - 1);
    if (step <= stepNow() + 1) { lastStep = step; return totp(key, step); }
    await new Promise((r) => setTimeout(r, 30000 - (Date.now() % 30000) + 200));
  }
}
// A code that is wrong for every step the server would take now.
function wrongCode(key) {
  const valid = new Set([-1, 0, 1, 2].map((d) => totp(key, stepNow() + d)));
  for (let n = 0; ; n++) { const c = String(n).padStart(6, '0'); if (!valid.has(c)) return c; }
}

check('TOTP here matches RFC 6238 (SHA-1, T=59)', totp(Buffer.from('12345678901234567890'), 1) === '287082' &&
  totp(base32('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'), 1) === '287082');

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
    if (m.type() === 'error' && !/status of 40[134]/.test(m.text())) problems.push(`console: ${m.text()}`);
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
  await page.waitForSelector('tr[data-key="github.webhook_secret"] input');
  const secret = 'ghp-browser-secret-0123456789';
  const srow = page.locator('tr[data-key="github.webhook_secret"]');
  await srow.locator('input').fill(secret);
  await srow.locator('button', { hasText: 'Save' }).click();
  await page.waitForFunction(() =>
    document.querySelector('tr[data-key="github.webhook_secret"] td.value')?.textContent.includes('****'));
  const shown = await page.locator('tr[data-key="github.webhook_secret"] td.value').textContent();
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

  await page.click('nav a[data-page=logs]');
  await page.waitForSelector('pre.logs');
  check('the logs page shows the ring buffer', (await page.textContent('pre.logs')).includes('module=web'));
  check('the logs do not hold the secret', !(await page.textContent('pre.logs')).includes(secret));
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
}
for (const p of problems) console.log(`  ${p}`);
check('no console errors or page errors (CSP violations included)', problems.length === 0);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
