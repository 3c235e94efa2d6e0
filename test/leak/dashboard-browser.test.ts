// The dashboard in a real browser: headless Chromium driven by playwright-core, against a service
// (fixtures/dashboard/server.ts) that leaks a task at a known line under a name that is an XSS
// payload. Screenshots are saved under os.tmpdir() (their paths are printed), never committed.
//
// Needs Debian's `chromium` (LEASH_CHROMIUM overrides its path). Without it the test skips loudly;
// scripts/run-tests.mjs sets LEASH_TEST_CHROMIUM=0 then, and under CI=true a missing Chromium fails.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { artifactsDir, chromiumSkip, launchChromium } from '../support/chromium.js';

// The callbacks given to page.evaluate run in the page; these are the DOM parts they use (the
// project's type-check has no DOM library).
interface PageElement {
  readonly textContent: string | null;
  readonly style: { readonly paddingLeft: string };
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
}
declare const document: {
  readonly documentElement: PageElement;
  querySelectorAll(selector: string): Iterable<PageElement> & { readonly length: number };
};
declare const window: object;

if (chromiumSkip) console.warn(`\n!!! SKIPPED: the dashboard browser test; ${chromiumSkip}.\n`);

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixture = 'test/leak/fixtures/dashboard/server.ts';
const XSS_NAME = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">';
// The fixture's leaking go() call, found by its marker so the test never goes stale.
const leakLine =
  readFileSync(join(root, fixture), 'utf8')
    .split('\n')
    .findIndex((l) => l.includes('// LEAK')) + 1;

function startServer(): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`fixture did not start: ${out}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line === undefined) return;
      clearTimeout(timer);
      resolve({
        child,
        base: `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}/debug/leash/`,
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`fixture exited with ${code}: ${out}`));
    });
  });
}

test('the dashboard in headless Chromium: task tree, leak line, flame graph, charts, trace, no XSS', {
  skip: chromiumSkip,
  timeout: 180_000,
}, async () => {
  assert.ok(leakLine > 0);
  const artifacts = artifactsDir();
  const { child, base } = await startServer();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const problems: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('response', (res) => {
      if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
    });
    const response = await page.goto(base);
    assert.equal(response?.status(), 200);
    assert.match(response?.headers()['content-security-policy'] ?? '', /script-src 'sha256-/);
    // Two polls: the charts need two samples to draw a line.
    await page.waitForFunction(
      () => Number(document.documentElement.getAttribute('data-updates')) >= 2,
      null,
      {
        timeout: 30_000,
      },
    );

    // The leaked task, by its (hostile) name, shown as text at its creation line.
    const leaked = await page.evaluate((name) => {
      const rows = [...document.querySelectorAll('#tasks-body tr')];
      const row = rows.find((r) => r.querySelector('.tree-name')?.textContent === name);
      return row
        ? {
            state: row.querySelector('.state')?.textContent,
            site: row.querySelector('.site')?.textContent,
          }
        : undefined;
    }, XSS_NAME);
    assert.ok(leaked, 'the leaked task is in the tree, its name shown verbatim');
    assert.equal(leaked.state, 'chan receive');
    assert.match(leaked.site ?? '', new RegExp(`^${fixture.replace(/[./]/g, '\\$&')}:${leakLine}:\\d+$`));

    // The XSS name stayed text: no script ran, no element was made from it.
    const xss = await page.evaluate(() => ({
      flag: (window as unknown as { __xss?: number }).__xss,
      scripts: document.querySelectorAll('script').length,
      imgs: document.querySelectorAll('img').length,
    }));
    assert.deepEqual(xss, { flag: undefined, scripts: 1, imgs: 0 });

    // The tree: both children under their parent, indented.
    const tree = await page.evaluate(() =>
      [...document.querySelectorAll('#tasks-body tr .tree-name')].map((td) => ({
        name: td.textContent,
        indent: Number.parseFloat(td.style.paddingLeft || '0'),
      })),
    );
    const parentAt = tree.findIndex((t) => t.name === 'parent');
    assert.ok(parentAt >= 0, 'the parent task is listed');
    assert.deepEqual(
      tree
        .slice(parentAt + 1, parentAt + 3)
        .map((t) => t.name)
        .sort(),
      ['child-a', 'child-b'],
    );
    assert.ok(tree[parentAt + 1]!.indent > tree[parentAt]!.indent, 'children are indented under the parent');

    // The leak groups list the leaked task's line.
    const groups = await page.locator('#groups-body').textContent();
    assert.match(groups ?? '', new RegExp(`dashboard/server\\.ts:${leakLine}:`));

    // The flame graph: an SVG with named frames, one for the leaked task's function and state.
    const flame = await page.evaluate(() =>
      [...document.querySelectorAll('#flame svg g.frame')].map((g) => ({
        name: g.getAttribute('data-name'),
        width: Number(g.querySelector('rect')?.getAttribute('width')),
      })),
    );
    assert.ok(flame.length >= 3, `flame graph has ${flame.length} frames`);
    assert.ok(flame.every((f) => f.width > 0));
    assert.ok(flame.some((f) => f.name === `${XSS_NAME} [chan receive]`));
    assert.ok(
      flame.some((f) =>
        /startWorker \(test\/leak\/fixtures\/dashboard\/server\.ts:\d+:\d+\)/.test(f.name ?? ''),
      ),
    );
    assert.ok(flame.some((f) => f.name === 'child-a [sleeping]'));

    // The charts: three, each with a line.
    assert.ok((await page.locator('#charts svg polyline').count()) >= 3);
    const shot1 = join(artifacts, 'dashboard.png');
    await page.screenshot({ path: shot1, fullPage: true });
    console.log(`screenshot: ${shot1}`);

    // A flame frame zooms in on click.
    await page.locator('#flame g.frame', { hasText: 'parent' }).first().click();
    assert.match((await page.locator('#flame-note').textContent()) ?? '', /zoom out/);

    // The trace, recorded and drawn in place: task slices named after the short tasks.
    await page.fill('#trace-seconds', '0.5');
    await page.click('#trace-record');
    await page.waitForSelector('#timeline svg', { timeout: 30_000 });
    const slices = await page.evaluate(() =>
      [...document.querySelectorAll('#timeline g.slice.task title')].map((t) => t.textContent ?? ''),
    );
    assert.ok(
      slices.some((s) => s.startsWith('task short ')),
      `task slices: ${slices.slice(0, 5).join(', ')}`,
    );
    const shot2 = join(artifacts, 'dashboard-trace.png');
    await page.screenshot({ path: shot2, fullPage: true });
    console.log(`screenshot: ${shot2}`);

    assert.deepEqual(problems, [], 'no console errors (a CSP violation would be one)');
  } finally {
    await browser.close();
    child.kill('SIGTERM');
  }
});
