import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { runDemo, type DemoReport } from '../src/cli/demo.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = new URL('../artifacts/', import.meta.url);

test('the dashboard shows runners appearing and finishing during a demo, live', { skip: existsSync(CHROMIUM) ? false : `Debian's chromium is not installed at ${CHROMIUM} (apt-get install -y chromium)`, timeout: 240_000 }, async (t) => {
  let release!: () => void;
  const until = new Promise<void>((resolve) => (release = resolve));
  let listening!: (info: { url: string; token: string | null }) => void;
  const ready = new Promise<{ url: string; token: string | null }>((resolve) => (listening = resolve));
  let reported: DemoReport | null = null;
  const demo = runDemo({ jobs: 16, seed: 7, logLevel: 'silent', serve: { port: 0, until, onListening: listening, onReport: (report) => (reported = report) } });
  t.after(async () => {
    release();
    await demo.catch(() => {});
  });
  const { url, token } = await ready;
  assert.ok(token, 'the served demo has an admin token');

  const profile = mkdtempSync(join(tmpdir(), 'jp-chromium-'));
  t.after(() => rmSync(profile, { recursive: true, force: true }));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 1000 },
  });
  t.after(() => context.close());
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));

  await page.goto(`${url}/?token=${token}`);
  assert.equal(new URL(page.url()).search, '', 'the token leaves the address bar at once');
  await page.waitForSelector('#conn[data-state="live"]', { timeout: 30_000 });
  await page.waitForSelector('#pools tr[data-pool="linux"]', { timeout: 30_000 });
  // Runners appear (launched for the workload) …
  await page.waitForSelector('#runners tr[data-runner-id]', { timeout: 60_000 });
  await page.waitForSelector('#runners tr[data-state="busy"]', { timeout: 60_000 });
  await page.waitForSelector('#chart polyline', { timeout: 60_000 });
  assert.equal(await page.locator('#chart text.tick').count(), 3, 'the x axis carries time labels');
  assert.equal(await page.locator('#feed-empty').count(), 0, 'the events placeholder goes with the first event');
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: new URL('dashboard-running.png', ARTIFACTS).pathname, fullPage: true });
  // … and finish: every runner shown ends removed once the demo drains, without a reload.
  await page.locator('#runners tr[data-runner-id]:not([data-state="removed"])').first().waitFor({ state: 'detached', timeout: 120_000 });
  assert.ok((await page.locator('#runners tr[data-state="removed"]').count()) > 0, 'finished runners are shown as removed');
  const feed = await page.locator('#feed li').count();
  assert.ok(feed > 10, `the event feed shows transitions (${feed})`);
  assert.ok((await page.locator('#feed li[data-to="busy"]').count()) > 0, 'busy transitions arrived through /events');
  assert.equal(await page.locator('#feed li', { hasText: '((' }).count(), 0, 'reasons are not wrapped in a second pair of parentheses');
  // The demo drains after its workload: the page says so.
  await page.waitForSelector('#activity[data-kind="draining"]:not([hidden])', { timeout: 60_000 });
  assert.match((await page.locator('#activity').textContent()) ?? '', /^Drain(ed|ing):/);
  await page.screenshot({ path: new URL('dashboard.png', ARTIFACTS).pathname, fullPage: true });
  assert.deepEqual(pageErrors, []);

  // A new tab starts with an empty sessionStorage: without the token it is told how to get in, and shows no data.
  const other = await context.newPage();
  await other.goto(`${url}/`);
  await other.waitForSelector('#banner:not([hidden])', { timeout: 30_000 });
  assert.equal(await other.locator('#runners tr[data-runner-id]').count(), 0);
  await other.close();
  await waitFor(() => reported !== null, 60_000);
  assert.equal(reported!.jobs.lost, 0);
});

async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
