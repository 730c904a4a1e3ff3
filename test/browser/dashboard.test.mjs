// The dashboard in a real browser: Debian's chromium (/usr/bin/chromium, or $CHROMIUM), driven
// by playwright-core over the DevTools protocol, against the real batchcalld binary
// ($BATCHCALLD_BIN) started with --demo and the built-in simulator. Every scenario works through
// the page as a user would; numbers on the page are compared with the API's. A screenshot of each
// page goes to $BATCHCALLD_SCREENSHOTS (default: ./browser-screenshots).
//
// Run: node --test test/browser/  (CTest: browser/dashboard). Needs `bash deps/install.sh --test`
// (chromium and the npm packages pinned in package-lock.json); without them it fails, saying so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const BIN = process.env.BATCHCALLD_BIN || path.join(ROOT, 'build', 'batchcalld');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.BATCHCALLD_SCREENSHOTS || path.join(process.cwd(), 'browser-screenshots');
const SAMPLE = path.join(ROOT, 'docs', 'sample-contacts.csv');

let chromium;
let server;
let browser;
let page;
let base;
let demo;
let tmp;
const dialogs = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startServer() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bc-browser-'));
  const proc = spawn(BIN, ['serve', '--demo', '--listen', `127.0.0.1:${port}`, '--data-dir', path.join(dir, 'data'),
    '--sim-speed', '200', '--provider-cps', '0', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { err += d; });
  const deadline = Date.now() + 20000;
  while (!/api key: (bck_\w+)/.test(out) || !/agent: (agent_\w+)/.test(out)) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      throw new Error(`batchcalld did not start (exit ${proc.exitCode}): ${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    proc, dir, port,
    ws: /workspace: (ws_\w+)/.exec(out)[1],
    key: /api key: (bck_\w+)/.exec(out)[1],
    agent: /agent: (agent_\w+)/.exec(out)[1],
  };
}

async function apiGet(p) {
  const res = await fetch(base + p, { headers: { 'x-api-key': demo.key, 'x-workspace-id': demo.ws } });
  const text = await res.text();
  assert.ok(res.ok, `GET ${p}: ${res.status} ${text}`);
  return res.headers.get('content-type').startsWith('application/json') ? JSON.parse(text) : text;
}

async function waitFor(fn, what, ms = 60000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function shot(name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

const fmt = (n) => new Intl.NumberFormat('en-US').format(n);

async function signIn(ws, key) {
  await page.goto(base + '/');
  await page.getByLabel('Workspace id').fill(ws);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

function csvFile(name, text) {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
}

async function newBatch(file, opts = {}) {
  await page.goto(base + '/#/new');
  await page.getByLabel('Agent').selectOption(demo.agent);
  await page.locator('#nb-file').setInputFiles(file);
  if (opts.name) await page.getByLabel('Name (optional)').fill(opts.name);
  if (opts.cps) {
    await page.getByText('Retries and limits').click();
    await page.getByLabel('Calls per second (optional)').fill(String(opts.cps));
  }
  await page.getByRole('button', { name: 'Validate' }).click();
  await page.getByText(/Rows|Not everything|The file is ready/).first().waitFor();
  const start = page.getByRole('button', { name: 'Start batch' });
  await start.waitFor({ state: 'visible' });
  await assert.doesNotReject(() => page.waitForFunction(() => !document.querySelector('button:disabled') ||
    [...document.querySelectorAll('button')].some((b) => b.textContent === 'Start batch' && !b.disabled)));
  await start.click();
  await page.waitForURL(/#\/batch\/batch_/);
  return decodeURIComponent(/#\/batch\/([^?]+)/.exec(page.url())[1]);
}

before(async () => {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`chromium not found at ${CHROMIUM}: install it with \`bash deps/install.sh --test\` (Debian package chromium), or set CHROMIUM`);
  }
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    throw new Error(`playwright-core is not installed in test/browser: run \`bash deps/install.sh --test\` (npm ci there). ${e.message}`);
  }
  assert.ok(fs.existsSync(BIN), `no batchcalld binary at ${BIN}: build first, or set BATCHCALLD_BIN`);
  fs.mkdirSync(SHOTS, { recursive: true });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bc-browser-files-'));
  demo = await startServer();
  base = `http://127.0.0.1:${demo.port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page = await context.newPage();
  page.setDefaultTimeout(30000);
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => dialogs.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // A CSP violation is reported on the console: the page must never cause one.
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) dialogs.push(`csp: ${m.text()}`);
  });
});

after(async () => {
  if (browser) await browser.close();
  if (demo) {
    demo.proc.kill('SIGTERM');
    await new Promise((r) => demo.proc.once('exit', r));
    fs.rmSync(demo.dir, { recursive: true, force: true });
  }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('a wrong key gets a clear message, and nothing is stored', async () => {
  await signIn(demo.ws, 'bck_wrong');
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.textContent(), /Sign-in refused: this workspace id and API key do not match/);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await shot('sign-in-refused');
});

test('sign in with the demo credentials; the key is only in sessionStorage', async () => {
  await signIn(demo.ws, demo.key);
  await page.getByRole('heading', { name: 'Batches' }).waitFor();
  assert.equal(await page.locator('#who-ws').textContent(), demo.ws);
  const html = await page.content();
  assert.ok(!html.includes(demo.key), 'the key is not in the page');
  assert.ok(!page.url().includes(demo.key), 'the key is not in the URL');
  assert.ok(await page.evaluate((k) => Object.values(sessionStorage).some((v) => v.includes(k)) && localStorage.length === 0 &&
    document.cookie === '', demo.key));
  await shot('batches-empty');
});

test('validating a file with errors lists each row error and the missing variable', async () => {
  const file = csvFile('bad.csv', 'phone_number,first_name\n+14155550110,Ada\n+1415555,Short\nnot a number,Text\n+14155550110,Again\n');
  await page.goto(base + '/#/new');
  await page.getByLabel('Agent').selectOption(demo.agent);
  await page.locator('#nb-file').setInputFiles(file);
  await page.getByRole('button', { name: 'Validate' }).click();
  await page.locator('tr.row-error').first().waitFor();
  const rows = await page.locator('tr.row-error').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  assert.deepEqual(rows.map((r) => [r[0], r[1]]), [['2', 'phone_number'], ['3', 'phone_number'], ['4', 'phone_number']]);
  assert.ok(rows.every((r) => r[2].length > 0 && r[4].length > 0), 'each error names its rule and says why');
  assert.equal(await page.locator('tr.missing-var td').first().textContent(), '{appointment_date}');
  assert.match(await page.locator('.msg.error').first().textContent(), /Not everything can be called/);
  // Nothing was stored by validating.
  assert.equal((await apiGet('/v1/api/batch-calls')).pagination.total, 0);
  await shot('new-batch-validation-errors');
});

let sampleId;
test('upload the sample file: the bar reaches 100% with the API\'s final counts', async () => {
  sampleId = await newBatch(SAMPLE, { name: 'Sample' });
  const final = await waitFor(async () => {
    const b = await apiGet(`/v1/api/batch-calls/${sampleId}`);
    return b.isComplete ? b : null;
  }, 'the sample batch to complete', 90000);
  const p = final.progress;
  assert.equal(p.completed + p.failed, 20);
  await page.locator('.live').filter({ hasText: 'final' }).waitFor({ timeout: 30000 });
  for (const [stat, n] of [['completed', p.completed], ['failed', p.failed], ['waiting', 0], ['active', 0], ['total', 20]]) {
    await page.waitForFunction(([s, v]) => document.querySelector(`[data-stat="${s}"]`)?.textContent === v, [stat, fmt(n)]);
  }
  const label = await page.locator('.bar.big').getAttribute('aria-label');
  assert.equal(label, `20 calls: ${fmt(p.completed)} completed, ${fmt(p.failed)} failed`);
  // The segments fill the bar: completed + failed = 100%.
  const widths = await page.locator('.bar.big span').evaluateAll((s) => s.map((e) => parseFloat(e.style.width)));
  assert.ok(Math.abs(widths[0] + widths[1] - 100) < 0.01, `segments ${widths}`);
  // The chart counted the calls that ended (replayed from the stream).
  const chartTotal = await page.locator('.chart rect title').evaluateAll((t) => t.reduce((s, e) => s + Number(e.textContent.split(': ')[1].split(' ')[0].replace(/,/g, '')), 0));
  assert.equal(chartTotal, 20);
  await shot('batch-detail-complete');
  await page.goto(base + '/#/batches');
  const row = page.locator(`tr[data-batch="${sampleId}"]`);
  await row.waitFor();
  assert.equal(await row.locator('.bar').getAttribute('aria-label'), label);
  await shot('batches');
});

test('open a failed call and read its reason', async () => {
  await page.goto(base + `/#/batch/${sampleId}`);
  await page.getByLabel('Show calls').selectOption('failed');
  const api = await apiGet(`/v1/api/batch-calls/${sampleId}/calls?status=failed&limit=50`);
  const unreachable = api.calls.find((c) => c.outcome === 'unreachable');
  assert.ok(unreachable, 'the sample has an unreachable number');
  await page.locator(`tr[data-job="${unreachable.jobId}"]`).waitFor();
  await page.getByRole('button', { name: `Details of ${unreachable.jobId}` }).click();
  const dlg = page.locator('#detail');
  await dlg.getByText(unreachable.error, { exact: true }).waitFor();
  const text = await dlg.textContent();
  assert.ok(text.includes('unreachable') && text.includes(unreachable.phone_number));
  assert.ok(text.includes('appointment_date'), 'the variables are listed');
  await shot('call-detail');
  await page.keyboard.press('Escape');
  await dlg.waitFor({ state: 'hidden' });
});

test('export downloads the API\'s CSV', async () => {
  await page.goto(base + `/#/batch/${sampleId}`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
  assert.equal(download.suggestedFilename(), `${sampleId}.csv`);
  const saved = path.join(tmp, 'export.csv');
  await download.saveAs(saved);
  assert.equal(fs.readFileSync(saved, 'utf8'), await apiGet(`/v1/api/batch-calls/${sampleId}/export`));
});

let bigId;
test('pause and resume a running batch', async () => {
  const lines = ['phone_number,first_name,appointment_date'];
  for (let i = 0; i < 2000; i++) lines.push(`+1415555${String(1000 + i).padStart(4, '0')},P${i},soon`);
  bigId = await newBatch(csvFile('big.csv', lines.join('\n') + '\n'), { name: 'Slow', cps: 2 });
  await page.getByRole('button', { name: 'Pause' }).click();
  await page.locator('#confirm').getByText(/No new call is dialled while it is paused/).waitFor();
  await shot('confirm-pause');
  await page.locator('#confirm-ok').click();
  await page.getByRole('button', { name: 'Resume' }).waitFor();
  assert.equal((await apiGet(`/v1/api/batch-calls/${bigId}`)).paused, true);
  await page.locator('.badge.paused').first().waitFor();
  await page.getByRole('button', { name: 'Resume' }).click();
  await page.locator('#confirm-ok').click();
  await page.getByRole('button', { name: 'Pause' }).waitFor();
  assert.equal((await apiGet(`/v1/api/batch-calls/${bigId}`)).paused, false);
});

test('cancel the second batch: waiting calls become cancelled', async () => {
  const before = await apiGet(`/v1/api/batch-calls/${bigId}`);
  assert.ok(before.progress.waiting > 1000, 'most calls still wait');
  await page.getByRole('button', { name: 'Cancel batch' }).click();
  assert.match(await page.locator('#confirm-text').textContent(), /waiting calls are cancelled and will never be dialled/);
  await page.locator('#confirm-ok').click();
  await page.locator('.msg.ok').getByText(/Cancelled:/).waitFor();
  const b = await apiGet(`/v1/api/batch-calls/${bigId}`);
  assert.equal(b.status, 'cancelled');
  await page.waitForFunction((v) => document.querySelector('[data-stat="cancelled"]')?.textContent === v, fmt(b.progress.cancelled));
  assert.equal(await page.locator('[data-stat="waiting"]').textContent(), '0');
  await page.getByLabel('Show calls').selectOption('cancelled');
  await page.locator('.pager span').getByText(`${fmt(b.progress.cancelled)} cancelled calls`).waitFor();
  assert.equal(await page.locator('tr[data-job] .badge.cancelled').count(), 50);
  await shot('batch-detail-cancelled');
});

test('a contact named <img src=x onerror=alert(1)> stays text', async () => {
  const evil = '<img src=x onerror=alert(1)>';
  const file = csvFile('xss.csv', `phone_number,first_name,appointment_date\n+14155550130,"${evil}","<script>alert(2)</script>"\n`);
  const id = await newBatch(file, { name: '<b>bold</b>' });
  await page.locator('tr[data-job="call_1"]').waitFor();
  await page.getByRole('button', { name: 'Details of call_1' }).click();
  await page.locator('#detail').getByText(evil, { exact: true }).waitFor();
  assert.equal(await page.locator('img[src="x"], script:not([src]), b').count(), 0, 'no element was injected');
  assert.equal(await page.locator('h1').textContent(), '<b>bold</b>');
  await page.keyboard.press('Escape');
  await page.goto(base + '/#/batches');
  await page.locator(`tr[data-batch="${id}"]`).waitFor();
  assert.equal(await page.locator('img[src="x"], b').count(), 0);
  assert.deepEqual(dialogs, [], 'no dialog, no script error, no CSP violation');
});

test('the main path with the keyboard only', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Workspace id').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'sign out clears the key');
  const kb = page.keyboard;
  // Listen for the file chooser long before Space opens it: Playwright turns the chooser's
  // interception on when the first listener is added, and a key pressed before that has reached
  // the browser opens the native dialog instead (seen under load), which never reports.
  const chooserShown = new Promise((resolve) => page.once('filechooser', resolve));
  // Tab until the focused element matches, as a keyboard user would.
  async function tabTo(check, what) {
    for (let i = 0; i < 60; i++) {
      if (await page.evaluate(check)) return;
      await kb.press('Tab');
    }
    throw new Error(`Tab never reached ${what}`);
  }
  await tabTo(() => document.activeElement?.id === 'signin-ws', 'the workspace field');
  await kb.type(demo.ws);
  await kb.press('Tab');
  await kb.type(demo.key);
  await kb.press('Enter');
  await page.getByRole('heading', { name: 'Batches' }).waitFor();
  await tabTo(() => document.activeElement?.textContent === 'New batch' && document.activeElement.closest('nav'), 'New batch');
  await kb.press('Enter');
  await page.getByRole('heading', { name: 'New batch' }).waitFor();
  await tabTo(() => document.activeElement?.id === 'nb-agent', 'the agent picker');
  await page.waitForFunction(() => document.querySelectorAll('#nb-agent option').length > 1);
  await kb.press('ArrowDown');
  assert.equal(await page.locator('#nb-agent').inputValue(), demo.agent);
  await tabTo(() => document.activeElement?.id === 'nb-file', 'the file input');
  await kb.press('Space');
  const chooser = await chooserShown;
  await chooser.setFiles(SAMPLE);
  await tabTo(() => document.activeElement?.textContent === 'Validate', 'Validate');
  await kb.press('Enter');
  await page.waitForFunction(() => document.activeElement?.textContent === 'Start batch');
  await kb.press('Enter');
  await page.waitForURL(/#\/batch\/batch_/);
  const id = decodeURIComponent(/#\/batch\/([^?]+)/.exec(page.url())[1]);
  await page.locator('.live').filter({ hasText: 'final' }).waitFor({ timeout: 90000 });
  // Open a call from the table with the keyboard, and close it again.
  await tabTo(() => document.activeElement?.getAttribute('aria-label') === 'Details of call_1', 'the first call');
  await kb.press('Enter');
  await page.locator('#detail[open]').waitFor();
  await kb.press('Escape');
  await page.locator('#detail').waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Details of call_1', 'focus returns');
  // Focus is visible: the focused control draws an outline.
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.equal(outline, 'solid');
  assert.equal((await apiGet(`/v1/api/batch-calls/${id}`)).totalCalls, 20);
});

test('agents, usage and webhooks pages work and are captured', async () => {
  await page.goto(base + '/#/agents');
  await page.getByRole('button', { name: 'New agent' }).click();
  await page.getByLabel('Name').fill('Survey');
  await page.getByLabel('Prompt').fill('Hello {first_name}, about {topic}.');
  await page.getByLabel('Caller id (from number)').fill('not-a-number');
  await page.getByRole('button', { name: 'Create agent' }).click();
  await page.locator('#agent-fromNumber-error').filter({ hasText: /fromNumber|E\.164/ }).waitFor();
  await page.getByLabel('Caller id (from number)').fill('+14155550199');
  await page.getByRole('button', { name: 'Create agent' }).click();
  await page.locator('td').getByText('{first_name} {topic}').waitFor();
  await shot('agents');

  await page.goto(base + '/#/usage?days=7');
  await page.locator('.chart svg').waitFor();
  const now = Date.now();
  const d = new Date();
  const midnight = new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const today = await apiGet(`/v1/api/usage?from=${midnight}&to=${midnight + 86400000}`);
  assert.ok(now >= midnight);
  const shownTotal = await page.locator('.stats dd').first().textContent();
  const week = await apiGet(`/v1/api/usage?from=${midnight - 6 * 86400000}&to=${midnight + 86400000}`);
  assert.equal(shownTotal, fmt(week.billableCalls));
  assert.ok(today.billableCalls > 0);
  await shot('usage');

  await page.goto(base + '/#/webhooks');
  await page.getByText('No webhook is set').waitFor();
  await page.getByLabel('Target URL').fill('http://127.0.0.1:9/hooks');
  await page.getByRole('button', { name: 'Set webhook' }).click();
  await page.getByRole('alert').or(page.locator('.msg.error')).first().waitFor();
  assert.match(await page.locator('#notice').textContent(), /loopback|private|127/);
  await page.getByLabel('Target URL').fill('https://hooks.example.com/batchcalld');
  await page.getByRole('button', { name: 'Set webhook' }).click();
  const secret = await page.locator('.secret').textContent();
  assert.match(secret, /^whsec_[0-9a-f]{64}$/);
  await page.getByRole('button', { name: 'Rotate secret' }).click();
  await page.locator('#confirm-ok').click();
  await page.waitForFunction((s) => document.querySelector('.secret')?.textContent !== s, secret);
  assert.equal((await apiGet('/v1/api/webhook')).secretHint, (await page.locator('.secret').textContent()).slice(-4));
  await shot('webhooks');
  assert.equal(await page.locator('#nav-suppressions').isVisible(), true, 'the server offers suppressions (B12)');
});

// Compliance (API.md B12) is not in this server yet: its routes are answered here, in the shape
// The do-not-call lists (B12), against the server's own routes; and hidden again when a server
// does not offer them (answered 404 by the test).
test('suppressions: add, check and remove through the page; hidden without B12', async () => {
  await page.goto(base + '/#/suppressions');
  await page.reload();
  await page.getByRole('heading', { name: 'Suppressions' }).waitFor();
  assert.equal(await page.locator('#nav-suppressions').isVisible(), true);
  await page.getByLabel('Number (E.164) or +1 area code').fill('+14155550188');
  await page.getByLabel('Reason (optional)').fill('<b>complaint</b>');
  await page.getByRole('button', { name: 'Add to the list' }).click();
  await page.locator('td').getByText('<b>complaint</b>', { exact: true }).waitFor();
  assert.equal((await apiGet('/v1/api/suppressions/check?phone=%2B14155550188')).suppressed, true);
  await page.getByLabel('Number (E.164) or +1 area code').fill('+1212');
  await page.getByRole('button', { name: 'Add to the list' }).click();
  await page.locator('td').getByText('+1212', { exact: true }).waitFor();
  await page.getByLabel('Check a number').fill('+14155550188');
  await page.getByRole('button', { name: 'Check' }).click();
  await page.getByText('Suppressed (workspace): <b>complaint</b>.').waitFor();
  await page.getByLabel('Check a number').fill('+12125550100');
  await page.getByRole('button', { name: 'Check' }).click();
  await page.getByText('Suppressed (workspace).').waitFor();
  await shot('suppressions');
  for (const entry of ['+14155550188', '+1212']) {
    await page.getByRole('button', { name: `Remove ${entry}` }).click();
    await page.locator('#confirm-ok').click();
    await page.locator('td').getByText(entry, { exact: true }).waitFor({ state: 'detached' });
  }
  assert.equal((await apiGet('/v1/api/suppressions/check?phone=%2B14155550188')).suppressed, false);
  // A new batch offers the calling window.
  await page.goto(base + '/#/new');
  await page.getByText('Retries and limits').click();
  await page.getByText("Calling window (callee's local time)").waitFor();
  // A server without the routes (404): a reload hides the page.
  await page.route('**/v1/api/suppressions**', (route) => route.fulfill({
    status: 404, json: { error: 'not_found', message: 'No such route.' } }));
  try {
    await page.goto(base + '/#/batches');
    await page.reload();
    await page.getByRole('heading', { name: 'Batches' }).waitFor();
    assert.equal(await page.locator('#nav-suppressions').isHidden(), true);
  } finally {
    await page.unroute('**/v1/api/suppressions**');
  }
});

// WCAG AA for text: 4.5:1, or 3:1 for large text (24 px, or 18.66 px bold), between each element's
// own text colour and the first opaque background behind it.
function contrastProblems() {
  const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const bg = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('svg') || !el.getClientRects().length) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden') continue;
    const [a, b] = [lum(rgb(cs.color)), lum(bg(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(cs.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(cs.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) out.push(`${el.tagName}.${el.className} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  return out;
}

test('text contrast meets WCAG AA on every page', async () => {
  for (const hash of ['#/batches', `#/batch/${sampleId}`, '#/new', '#/agents', '#/usage', '#/webhooks']) {
    await page.goto(base + '/' + hash);
    await page.locator('h1').waitFor();
    await page.waitForTimeout(500);
    assert.deepEqual(await page.evaluate(contrastProblems), [], hash);
  }
});

test('phone width: no horizontal scrolling of the page', async () => {
  await page.setViewportSize({ width: 380, height: 800 });
  for (const hash of ['#/batches', `#/batch/${sampleId}`, '#/new']) {
    await page.goto(base + '/' + hash);
    await page.locator('h1').waitFor();
    await page.waitForTimeout(300);
    const over = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(over <= 1, `${hash} overflows by ${over}px`);
  }
  await shot('phone-batch-detail');
  await page.setViewportSize({ width: 1280, height: 900 });
  assert.deepEqual(dialogs, []);
});
