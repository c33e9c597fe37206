import { tmpdir } from 'node:os';
import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chromium, type Browser } from 'playwright-core';
import { QUEUES } from '@sup/contracts';
import { ROOT, until } from '../src/procs.js';
import { System } from '../src/system.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const KEY = 'browser-e2e-key';
const auth = { authorization: `Bearer ${KEY}` };
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  process.stderr.write(`admin-browser: SKIPPED, no Chromium at ${CHROMIUM} (scripts/test.sh installs Debian's chromium as root; or set CHROMIUM_PATH)\n`);
}

(haveChromium ? describe : describe.skip)('/admin/queues in a real browser (headless Chromium, playwright-core)', () => {
  const sys = new System({ workers: 1, apiEnv: { API_KEYS: KEY } });
  let browser: Browser;
  beforeAll(async () => {
    await sys.start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await sys.stop();
  });

  it('opens the board with the API key, sees the queues and the job of a finished run, linked to the run', async () => {
    const created = await sys.api('POST', '/v1/graphs/release_check/runs', { agent_id: 'sofiia', input: { service: 'billing', version: '1.4.2' } }, auth);
    expect(created.status).toBe(202);
    const id = created.body.run_id as string;
    await until(`run ${id} succeeded`, async () => (await sys.api('GET', `/v1/runs/${id}`, undefined, auth)).body.status === 'succeeded');

    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    // the board's HTML links Google Fonts: nothing may leave this machine
    await context.route('**/*', (route) => (new URL(route.request().url()).hostname === '127.0.0.1' ? route.continue() : route.abort()));
    const page = await context.newPage();

    const denied = await page.goto(`${sys.apiUrl}/admin/queues`);
    expect(denied!.status()).toBe(401);
    expect(await page.textContent('body')).toContain('"unauthorized"');

    await page.goto(`${sys.apiUrl}/admin/queues?api_key=${KEY}`);
    expect(new URL(page.url()).search).not.toContain('api_key'); // the key left the address bar
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'sup_admin')).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/admin' });
    // every queue of the job catalog has its tab
    for (const queue of Object.values(QUEUES)) await page.getByText(queue, { exact: true }).first().waitFor();

    await page.goto(`${sys.apiUrl}/admin/queues/queue/runs?status=completed`);
    await page.getByText(id).first().waitFor();
    const link = page.locator(`a[href="/admin/runs/${id}"]`).first();
    await link.waitFor();
    // job progress is the node the run was parked at or slow in: poll_job, for a release_check
    await page.getByText('Progress', { exact: true }).first().click();
    await page.getByText('"poll_job"').first().waitFor();
    expect((await page.locator('main').innerText()).replace(/\s+/g, '')).toContain('{node:"poll_job"}');
    await page.mouse.move(0, 0); // no hover highlight in the picture
    mkdirSync(`${ROOT}docs`, { recursive: true });
    // docs/bull-board.png is refreshed on request only, so a test run leaves the work tree clean
    const shot = process.env.SAVE_SCREENSHOTS ? `${ROOT}docs/bull-board.png` : `${tmpdir()}/bull-board-${process.pid}.png`;
    await page.screenshot({ path: shot });

    // the job's link opens the run, with the same browser session
    const runPage = await context.newPage();
    await runPage.goto(`${sys.apiUrl}/admin/runs/${id}`);
    const run = JSON.parse((await runPage.textContent('body'))!);
    expect(run).toMatchObject({ run_id: id, graph: 'release_check', status: 'succeeded' });
    await context.close();
  });
});
