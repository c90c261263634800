// tests/browser/ui.mjs - the admin UI in real headless Chromium (Debian's), driven by playwright-core.
// Signs in, creates a two-step workflow, enables and runs it, follows the run to its branch path, saves a secret on
// the Config page and sees it masked, reads the logs, signs out. Fails on any console error (a Content-Security-Policy
// violation shows up as one) or uncaught page error. Saves a screenshot of every page into AC_SCREENSHOTS.
// Environment: AC_WEB_URL, AC_ADMIN_PASSWORD, AC_SCREENSHOTS, AC_CHROMIUM (default /usr/bin/chromium).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const base = process.env.AC_WEB_URL;
const password = process.env.AC_ADMIN_PASSWORD;
const shots = process.env.AC_SCREENSHOTS;
mkdirSync(shots, { recursive: true });

let passed = 0, failed = 0;
function check(what, ok) {
  if (ok) { passed++; console.log(`ok   - ${what}`); } else { failed++; console.log(`FAIL - ${what}`); }
}

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
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 401/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const shot = (name) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });

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
  await shot('02-dashboard');

  // create a two-step workflow in the editor, enable it, run it
  await page.click('nav a[data-page=workflows]');
  await page.waitForSelector('h1:text("Workflows")');
  await shot('03-workflows-empty');
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

  // a secret, saved on the Config page, is shown masked
  await page.click('nav a[data-page=config]');
  await page.waitForSelector('h1:text("Config")');
  const secret = 'ghp-browser-secret-0123456789';
  const srow = page.locator('tr[data-key="github.webhook_secret"]');
  await srow.locator('input').fill(secret);
  await srow.locator('button', { hasText: 'Save' }).click();
  await page.waitForSelector('.msg.ok');
  await page.waitForFunction(() =>
    document.querySelector('tr[data-key="github.webhook_secret"] td.value')?.textContent.includes('****'));
  const shown = await page.locator('tr[data-key="github.webhook_secret"] td.value').textContent();
  check(`the secret is shown masked (${shown})`, shown === 'ghp-********6789');
  check('the secret is nowhere in the page', !(await page.content()).includes(secret));
  await shot('09-config');

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
