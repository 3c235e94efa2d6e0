import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { background, withCancel } from 'leashjs';
import { type DebugHandler, debugHandler, snapshot, startTracking, verifyNone } from 'leashjs/leak';
import { Channel, go, setTaskStacks, type TaskHandle } from 'leashjs/task';

startTracking({ mode: 'debug' });
setTaskStacks(true);

const XSS = '<script>alert(1)</script><img src=x onerror=alert(2)>';

async function withServer(debug: DebugHandler, fn: (base: string) => Promise<void>): Promise<void> {
  const server = http.createServer((req, res) => {
    if (!debug(req, res)) res.writeHead(404).end('app');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}/debug/leash`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Sample {
  t: number;
  tasks: number;
  states: Record<string, number>;
  delayP50Ms: number;
  delayP99Ms: number;
  delayMaxMs: number;
  elu: number;
}
interface Samples {
  intervalMs: number;
  running: boolean;
  samples: Sample[];
}

test('the dashboard is off unless asked for: its paths fall through to the app', async () => {
  const debug = debugHandler();
  await withServer(debug, async (base) => {
    for (const path of ['/', '/dashboard/state', '/dashboard/samples']) {
      const res = await fetch(base + path);
      assert.equal(res.status, 404, path);
      assert.equal(await res.text(), 'app');
    }
    assert.equal((await fetch(`${base}/tasks`)).status, 200);
  });
  debug.close(); // a no-op without the dashboard
});

test('the page: self-contained, strict CSP matching its one script and style, no HTML sinks', async () => {
  const debug = debugHandler({ dashboard: true });
  try {
    await withServer(debug, async (base) => {
      const res = await fetch(`${base}/`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const html = await res.text();
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.match(csp, /require-trusted-types-for 'script'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
      const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
      const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]!);
      assert.equal(scripts.length, 1);
      assert.equal(styles.length, 1);
      const hash = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;
      assert.ok(csp.includes(`script-src ${hash(scripts[0]!)}`), 'the CSP allows exactly the page script');
      assert.ok(csp.includes(`style-src ${hash(styles[0]!)}`), 'the CSP allows exactly the page style');
      // No CDN, no external resource, no HTML or code sinks.
      assert.doesNotMatch(html, /(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i);
      assert.doesNotMatch(
        html,
        /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/,
      );
      assert.doesNotMatch(html, / style=/, 'no inline style attributes (the CSP would block them)');
      const moved = await fetch(base, { redirect: 'manual' });
      assert.equal(moved.status, 308);
      assert.equal(moved.headers.get('location'), 'leash/');
      assert.equal((await fetch(`${base}/`, { method: 'POST' })).status, 404);
    });
  } finally {
    debug.close();
  }
});

test('state: live tasks with parent, state and creation line; XSS names escaped; flame and groups', async () => {
  const baseline = snapshot();
  const [ctx, cancel] = withCancel(background());
  const ch = new Channel<number>();
  const debug = debugHandler({ dashboard: true });
  const handles: TaskHandle<unknown>[] = [];
  try {
    // The leaking line: the go() call below.
    const line = Number(new Error().stack!.split('\n')[1]!.match(/:(\d+):\d+\)?$/)![1]) + 1;
    const leaked = go(ctx, async (c) => (await ch.recv(c)).value, { name: XSS });
    const parent = go(
      ctx,
      async (c) => {
        const child = go(c, async (cc) => (await ch.recv(cc)).value, { name: 'child' });
        child.done.catch(() => {});
        return (await ch.recv(c)).value;
      },
      { name: 'parent' },
    );
    handles.push(leaked, parent);
    await wait(20);
    await withServer(debug, async (base) => {
      const res = await fetch(`${base}/dashboard/state`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      const text = await res.text();
      assert.ok(!text.includes('<'), 'no raw < in the JSON');
      const state = JSON.parse(text) as {
        tracking: string;
        stacks: boolean;
        taskCount: number;
        tasks: Array<{ id: number; name: string; parentId?: number; state: string; site: string }>;
        groups: Array<{ kind: string; type: string; count: number; site: string }>;
        flame: { name: string; value: number; children: unknown[] };
      };
      assert.match(state.tracking, /^(debug|full)$/);
      assert.equal(state.stacks, true);
      const mine = state.tasks.find((t) => t.id === leaked.id);
      assert.ok(mine);
      assert.equal(mine.name, XSS);
      assert.equal(mine.state, 'chan receive');
      assert.match(mine.site, new RegExp(`^src/leak/dashboard\\.test\\.ts:${line}:\\d+$`));
      const child = state.tasks.find((t) => t.name === 'child');
      assert.equal(child?.parentId, parent.id);
      assert.ok(state.groups.some((g) => g.kind === 'task' && g.type === XSS && g.count === 1));
      // The flame graph counts every listed task once, each ending in "name [state]".
      assert.equal(state.flame.value, state.taskCount);
      const leaves: string[] = [];
      const walk = (n: { name: string; children: unknown[] }) => {
        if (n.children.length === 0) leaves.push(n.name);
        for (const c of n.children) walk(c as typeof n);
      };
      walk(state.flame);
      assert.ok(leaves.includes(`${XSS} [chan receive]`));
      assert.ok(leaves.includes('child [chan receive]'));
    });
  } finally {
    debug.close();
    cancel();
  }
  await Promise.allSettled(handles.map((h) => h.done));
  await verifyNone({ baseline });
});

test('samples: per interval (a blocked loop shows in its interval only), bounded ring, stopped by close()', async () => {
  const debug = debugHandler({ dashboard: true, dashboardIntervalMs: 100, dashboardSamples: 20 });
  try {
    await withServer(debug, async (base) => {
      await wait(250);
      const end = Date.now() + 300;
      while (Date.now() < end) {
        // block the event loop for 300 ms
      }
      await wait(600);
      const data = (await (await fetch(`${base}/dashboard/samples`)).json()) as Samples;
      assert.equal(data.intervalMs, 100);
      assert.equal(data.running, true);
      assert.ok(data.samples.length >= 4, `${data.samples.length} samples`);
      for (let i = 1; i < data.samples.length; i++) assert.ok(data.samples[i]!.t >= data.samples[i - 1]!.t);
      for (const s of data.samples) {
        assert.ok(s.elu >= 0 && s.elu <= 1, `elu ${s.elu}`);
        assert.ok(
          s.delayP50Ms >= 0 && s.delayP50Ms <= s.delayP99Ms + 1e-9 && s.delayP99Ms <= s.delayMaxMs + 1e-9,
        );
        assert.equal(typeof s.tasks, 'number');
      }
      const blocked = data.samples.findIndex((s) => s.delayMaxMs >= 250);
      assert.ok(blocked >= 0, `a sample saw the 300 ms block: ${data.samples.map((s) => s.delayMaxMs)}`);
      assert.ok(data.samples[blocked]!.elu > 0.5, 'the blocked interval was busy');
      const last = data.samples.at(-1)!;
      assert.ok(
        last.delayMaxMs < 250,
        `the last interval is measured alone, not since start: ${last.delayMaxMs}`,
      );
    });
  } finally {
    debug.close();
  }
  const small = debugHandler({ dashboard: true, dashboardIntervalMs: 100, dashboardSamples: 2 });
  try {
    await withServer(small, async (base) => {
      await wait(450);
      const data = (await (await fetch(`${base}/dashboard/samples`)).json()) as Samples;
      assert.equal(data.samples.length, 2, 'the ring keeps dashboardSamples');
      assert.ok(data.samples[1]!.t > data.samples[0]!.t, 'oldest first');
      small.close();
      small.close(); // idempotent
      const after = (await (await fetch(`${base}/dashboard/samples`)).json()) as Samples;
      assert.deepEqual(after, { intervalMs: 0, running: false, samples: [] });
      assert.equal((await fetch(`${base}/`)).status, 200, 'the page is still served after close()');
    });
  } finally {
    small.close();
  }
});

test("the sampler is leash's own: verifyNone does not report it", async () => {
  const baseline = snapshot();
  const debug = debugHandler({ dashboard: true, dashboardIntervalMs: 100 });
  try {
    await wait(250);
    await verifyNone({ baseline });
  } finally {
    debug.close();
  }
});

test('the sampler never keeps the process alive', () => {
  const code = `import { debugHandler } from 'leashjs/leak';
const debug = debugHandler({ dashboard: true, dashboardIntervalMs: 100 });
setTimeout(() => console.log('still here'), 300);`;
  const started = Date.now();
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim(), 'still here');
  assert.ok(Date.now() - started < 15_000);
});

test('bad dashboard options are TypeErrors with LEASH_ERR_INVALID_ARG', () => {
  const bad = [
    { dashboard: 'yes' },
    { dashboard: true, dashboardIntervalMs: 50 },
    { dashboard: true, dashboardIntervalMs: Number.NaN },
    { dashboard: true, dashboardSamples: 1 },
    { dashboard: true, dashboardSamples: 2.5 },
  ];
  for (const opts of bad) {
    assert.throws(() => debugHandler(opts as never), { name: 'TypeError', code: 'LEASH_ERR_INVALID_ARG' });
  }
  assert.throws(() => debugHandler({ dashbord: true } as never), /did you mean "dashboard"/);
});

test('samples carry the service series: request outcomes, defences, cache hits, open breakers, queue depth; close() unsubscribes', async () => {
  const { withContext } = await import('leashjs/http');
  const { circuitBreaker } = await import('leashjs/resilience');
  const { createCache } = await import('leashjs/cache');
  const { createQueue, memoryBackend } = await import('leashjs/queue');
  const diagnostics = await import('node:diagnostics_channel');
  const debug = debugHandler({ dashboard: true, dashboardIntervalMs: 100 });
  const app = http.createServer(withContext(background(), async (_req, res) => void res.end('ok')));
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const queue = createQueue<number>({ name: 'dash-q', backend: memoryBackend({ capacity: 100 }) });
  try {
    const url = `http://127.0.0.1:${(app.address() as AddressInfo).port}/`;
    for (let i = 0; i < 5; i++) assert.equal(await (await fetch(url)).text(), 'ok');
    const breaker = circuitBreaker({ name: 'dash-breaker', minimumCalls: 1, window: { calls: 1 } });
    await breaker.execute(background(), () => Promise.reject(new Error('down'))).catch(() => {});
    await assert.rejects(
      breaker.execute(background(), async () => 1),
      { code: 'LEASH_ERR_CIRCUIT_OPEN' },
    );
    const cache = createCache<number>({ name: 'dash-cache', maximumSize: 10 });
    await cache.getOrLoad(background(), 'k', async () => 1); // a miss
    await cache.getOrLoad(background(), 'k', async () => 2); // a hit
    await queue.enqueue(background(), 1);
    await queue.enqueue(background(), 2);
    await wait(350);
    await withServer(debug, async (base) => {
      const { samples } = (await (await fetch(`${base}/dashboard/samples`)).json()) as {
        samples: Array<{
          service: {
            requests: Record<string, number>;
            defences: Record<string, number>;
            cache: Record<string, [number, number]>;
            breakersOpen: number;
            queueDepth: Record<string, number>;
          };
        }>;
      };
      const sum = (pick: (s: (typeof samples)[number]['service']) => number) =>
        samples.reduce((n, s) => n + pick(s.service), 0);
      assert.equal(
        sum((s) => s.requests.finished ?? 0),
        5,
        'five requests finished',
      );
      assert.equal(
        sum((s) => s.defences.breaker ?? 0),
        1,
        'one call refused by the open breaker',
      );
      assert.equal(
        sum((s) => s.cache.memory?.[0] ?? 0),
        1,
        'one memory hit',
      );
      assert.equal(
        sum((s) => s.cache.memory?.[1] ?? 0),
        1,
        'one memory miss',
      );
      const last = samples.at(-1)!.service;
      assert.equal(last.breakersOpen, 1);
      assert.equal(last.queueDepth['dash-q'], 2);
    });
  } finally {
    debug.close();
    await queue.close();
    app.closeAllConnections();
    await new Promise((resolve) => app.close(resolve));
  }
  for (const name of [
    // Requests and cache lookups are read from tallies: never subscribed, even while it runs.
    'leash:http:request-end',
    'leash:cache:hit',
    'leash:queue:depth',
    'leash:resilience:breaker:rejected',
  ]) {
    assert.equal(diagnostics.hasSubscribers(name), false, `${name}: nothing left subscribed after close()`);
  }
});
