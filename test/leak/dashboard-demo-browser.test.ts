// The dashboard in a real browser against the demo: the repository's `leash load --demo` target
// (demo/load-target.ts) started in its leaky mode, where one request in ten also starts a
// background task tied to nothing. After a load, the dashboard served on the demo's debug port must
// show those tasks in the tree at their creation line, group them by it, draw them in the flame
// graph, and chart the requests. Screenshots are saved under os.tmpdir() (their paths printed).
//
// Needs Debian's `chromium` (see test/support/chromium.ts): skipped loudly without it, failed under CI=true.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { artifactsDir, chromiumSkip, launchChromium } from '../support/chromium.js';

// The DOM parts the page.evaluate callbacks use (the project's type-check has no DOM library).
interface PageElement {
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
}
declare const document: {
  readonly documentElement: PageElement;
  querySelectorAll(selector: string): Iterable<PageElement> & { readonly length: number };
};

if (chromiumSkip)
  console.warn(`\n!!! SKIPPED: the dashboard browser test against the demo; ${chromiumSkip}.\n`);

const root = fileURLToPath(new URL('../..', import.meta.url));
const target = 'demo/load-target.ts';
// The demo's leaking go() call, found by its name so the test never goes stale.
const leakLine =
  readFileSync(join(root, target), 'utf8')
    .split('\n')
    .findIndex((l) => l.includes("name: 'refresh-stock'")) + 1;

function startDemo(): Promise<{ child: ChildProcess; url: string; debugUrl: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', target, 'leaky'], {
    cwd: root,
    env: { ...process.env, LEASH_TASK_STACKS: '1' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the demo did not start: ${out}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line === undefined) return;
      clearTimeout(timer);
      resolve({ child, ...(JSON.parse(line) as { url: string; debugUrl: string }) });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited with ${code}: ${out}`));
    });
  });
}

test('the dashboard against the demo in headless Chromium: the leaked tasks at their creation line, the flame graph, the request chart', {
  skip: chromiumSkip,
  timeout: 180_000,
}, async () => {
  assert.ok(leakLine > 0);
  const artifacts = artifactsDir();
  const { child, url, debugUrl } = await startDemo();
  const browser = await launchChromium();
  try {
    // 40 orders: the demo's bug starts 4 background tasks that nothing ends.
    for (let i = 0; i < 40; i += 10) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => fetch(url).then((r) => r.json())));
      for (const a of answers) assert.equal((a as { ok: boolean }).ok, true);
    }
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    const problems: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    const response = await page.goto(`${debugUrl}/`);
    assert.equal(response?.status(), 200);
    await page.waitForFunction(
      () => Number(document.documentElement.getAttribute('data-updates')) >= 2,
      null,
      {
        timeout: 30_000,
      },
    );

    // The tree: the leaked tasks, with their creation line in the demo's source.
    const leaked = await page.evaluate(() =>
      [...document.querySelectorAll('#tasks-body tr')]
        .filter((r) => r.querySelector('.tree-name')?.textContent === 'refresh-stock')
        .map((r) => ({
          state: r.querySelector('.state')?.textContent,
          site: r.querySelector('.site')?.textContent,
        })),
    );
    assert.equal(leaked.length, 4, `the tree lists the 4 leaked tasks: ${JSON.stringify(leaked)}`);
    for (const t of leaked)
      assert.match(t.site ?? '', new RegExp(`^demo/load-target\\.ts:${leakLine}:\\d+$`));
    // Nothing else is left: every request's own task ended with its request.
    const others = await page.evaluate(() =>
      [...document.querySelectorAll('#tasks-body tr .tree-name')]
        .map((td) => td.textContent)
        .filter((name) => name !== 'refresh-stock'),
    );
    assert.deepEqual(others, [], 'only the leaked tasks are alive');

    // The leak groups: one group of 4 at that line.
    const groups = (await page.locator('#groups-body').textContent()) ?? '';
    assert.match(groups, new RegExp(`demo/load-target\\.ts:${leakLine}:`));

    // The flame graph: a frame for the leaked tasks, as wide as the four of them.
    const flame = await page.evaluate(() =>
      [...document.querySelectorAll('#flame svg g.frame')].map((g) => ({
        name: g.getAttribute('data-name') ?? '',
        width: Number(g.querySelector('rect')?.getAttribute('width')),
      })),
    );
    assert.ok(flame.length >= 2, `flame graph has ${flame.length} frames`);
    assert.ok(flame.every((f) => f.width > 0));
    assert.ok(
      flame.some((f) => f.name.startsWith('refresh-stock')),
      `a frame for the leaked tasks: ${flame.map((f) => f.name).join(' | ')}`,
    );

    // The charts: the requests the load made, by outcome, among the others.
    const titles = await page.evaluate(() =>
      [...document.querySelectorAll('#charts .chart h3')].map((h) => h.textContent ?? ''),
    );
    assert.ok(titles.includes('requests per second by outcome'), titles.join(', '));
    const legend = await page.evaluate(
      () =>
        [...document.querySelectorAll('#charts .chart')]
          .find((c) => c.querySelector('h3')?.textContent === 'requests per second by outcome')
          ?.querySelector('.legend')?.textContent ?? '',
    );
    assert.match(legend, /finished/, 'the finished requests have a series');
    const shot = join(artifacts, 'dashboard-demo.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
    assert.deepEqual(problems, [], 'no console errors');
  } finally {
    await browser.close();
    child.stdin!.end();
    await new Promise((resolve) => child.once('exit', resolve));
  }
});
