// leashjs/metrics against a real prom-client Registry: every family present and right after real
// work through each layer (tasks, a node:http server on loopback, resilience policies, a cache;
// the queue through its documented channels), labels bounded against hostile names, event-loop
// figures per interval, and stop() leaving nothing behind.
import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { background, sleep } from 'leashjs';
import { createCache } from 'leashjs/cache';
import { withContext } from 'leashjs/http';
import { verifyNone } from 'leashjs/leak';
import { collectMetrics } from 'leashjs/metrics';
import {
  adaptiveLimit,
  bulkhead,
  circuitBreaker,
  constantBackoff,
  hedge,
  rateLimiter,
  retry,
  shedLoad,
  timeout,
} from 'leashjs/resilience';
import { go } from 'leashjs/task';
import { Registry } from 'prom-client';
import { type Exposition, parseExposition, value } from './exposition.js';

const bg = background();

async function scrape(register: Registry): Promise<Exposition> {
  return parseExposition(await register.metrics());
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

// Sends a request and leaves before the answer: the server sees its client go.
function leave(port: number, path: string): Promise<void> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false });
    req.on('error', () => {});
    setTimeout(() => {
      req.destroy();
      resolve();
    }, 50);
  });
}

const QUEUE_EVENTS: [string, object][] = [
  ['leash:queue:enqueue', { queue: 'emails', id: 'job-1', depth: 3 }],
  ['leash:queue:start', { queue: 'emails', id: 'job-1', attempt: 1, waitMs: 20 }],
  ['leash:queue:finish', { queue: 'emails', id: 'job-1', attempt: 1, outcome: 'failed', runMs: 7 }],
  ['leash:queue:retry', { queue: 'emails', id: 'job-1', attempt: 1, delayMs: 10, error: new Error('x') }],
  ['leash:queue:start', { queue: 'emails', id: 'job-1', attempt: 2, waitMs: 30 }],
  ['leash:queue:finish', { queue: 'emails', id: 'job-1', attempt: 2, outcome: 'completed', runMs: 4 }],
  ['leash:queue:dead-letter', { queue: 'emails', id: 'job-2', attempts: 3, error: new Error('y') }],
  ['leash:queue:cancel', { queue: 'emails', id: 'job-3', running: true }],
  ['leash:queue:depth', { queue: 'emails', depth: 2 }],
];

test('after real work through every layer, each family is in the scrape with the right values', async () => {
  const register = new Registry();
  const metrics = collectMetrics({
    register,
    eventLoop: { intervalMs: 50, resolutionMs: 2 },
    httpDuration: true,
  });
  try {
    // tasks
    const ok = go(bg, async () => 1, { name: 'ok' });
    const bad = go(bg, async () => {
      throw new Error('task failed');
    });
    await ok.done;
    await assert.rejects(bad.done);

    // an HTTP server with each way a request can end
    const breaker = circuitBreaker({ name: 'upstream' });
    breaker.forceOpen();
    const shed = shedLoad(breaker);
    // shedLoad runs inside the request context (it takes req.ctx), as docs/resilience.md shows.
    const server = http.createServer(
      withContext(
        bg,
        async (req, res) => {
          if (req.url === '/slow' || req.url === '/gone') {
            await sleep(req.ctx, 10_000).catch(() => {});
            return;
          }
          if (req.url === '/shed') shed(req, res, () => res.end('not shed'));
          else res.end('ok');
        },
        { timeoutMs: 100, onError: () => {} },
      ),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      for (let i = 0; i < 5; i++) assert.equal(await get(port, `/ok?user=${i}`), 200);
      assert.equal(await get(port, '/slow'), 504);
      assert.equal(await get(port, '/shed'), 503);
      await leave(port, '/gone');
      await sleep(bg, 50);
    } finally {
      await new Promise((r) => server.close(r));
    }

    // resilience policies
    await assert.rejects(
      retry({ name: 'payments', maxAttempts: 3, backoff: constantBackoff(1) }).execute(bg, async () => {
        throw new Error('down');
      }),
    );
    await assert.rejects(timeout(5, { name: 'slow-dep' }).execute(bg, (ctx) => sleep(ctx, 1000)));
    const limiter = rateLimiter({ name: 'api', rate: 1, perMs: 60_000 });
    await limiter.execute(bg, async () => {});
    await assert.rejects(limiter.execute(bg, async () => {}));
    const bh = bulkhead({ name: 'db', limit: 1, queue: 0 });
    const held = bh.execute(bg, (ctx) => sleep(ctx, 20));
    await assert.rejects(bh.execute(bg, async () => {}));
    await held;
    const limit = adaptiveLimit({
      name: 'orders',
      algorithm: 'aimd',
      initial: 2,
      min: 1,
      max: 50,
      sampleWindowMs: 1,
    });
    for (let i = 0; i < 40; i++)
      await Promise.all([
        limit.execute(bg, (ctx) => sleep(ctx, 1)),
        limit.execute(bg, (ctx) => sleep(ctx, 1)),
      ]).catch(() => {});
    await hedge({ name: 'search', afterMs: 1 }).execute(bg, (ctx) => sleep(ctx, 20));

    // cache
    const cache = createCache<number>({ name: 'users', maximumSize: 100 });
    assert.equal(await cache.getOrLoad(bg, 'u1', async () => 1), 1);
    assert.equal(await cache.getOrLoad(bg, 'u1', async () => 2), 1);

    // queue (its layer publishes these; here through the channels it documents)
    for (const [name, msg] of QUEUE_EVENTS) diagnostics_channel.channel(name).publish(Object.freeze(msg));

    await sleep(bg, 120); // two event-loop intervals
    const e = await scrape(register);
    const v = (name: string, labels?: Record<string, string>): number | undefined => value(e, name, labels);

    assert.equal(
      v('leash_tasks_started_total'),
      (v('leash_tasks_ended_total', { state: 'done' }) ?? 0) +
        (v('leash_tasks_ended_total', { state: 'failed' }) ?? 0) +
        (v('leash_tasks_live') ?? 0),
    );
    assert.ok((v('leash_tasks_ended_total', { state: 'failed' }) ?? 0) >= 1);
    assert.ok((v('leash_tasks_started_total') ?? 0) >= 2);

    assert.equal(v('leash_http_requests_total', { outcome: 'finished' }), 5);
    assert.equal(v('leash_http_requests_total', { outcome: 'deadline' }), 1);
    assert.equal(v('leash_http_requests_total', { outcome: 'shed' }), 1);
    assert.equal(v('leash_http_requests_total', { outcome: 'client_gone' }), 1);
    assert.equal(v('leash_http_requests_in_flight'), 0);
    assert.equal(v('leash_http_request_duration_seconds_count', { outcome: 'finished' }), 5);
    assert.equal(v('leash_http_request_duration_seconds_bucket', { outcome: 'finished', le: '+Inf' }), 5);
    assert.ok((v('leash_http_request_duration_seconds_sum', { outcome: 'deadline' }) ?? 0) >= 0.09);
    assert.equal(v('leash_shed_total'), 1);

    assert.equal(v('leash_breaker_state', { name: 'upstream', state: 'forced-open' }), 1);
    assert.equal(v('leash_breaker_state', { name: 'upstream', state: 'closed' }), 0);
    assert.equal(
      v('leash_breaker_transitions_total', { name: 'upstream', from: 'closed', to: 'forced-open' }),
      1,
    );
    assert.equal(v('leash_breaker_rejected_total', { name: 'upstream' }), 1);
    assert.equal(v('leash_retries_total', { name: 'payments' }), 2);
    assert.equal(v('leash_retry_give_ups_total', { name: 'payments', reason: 'attempts' }), 1);
    assert.equal(v('leash_timeouts_total', { name: 'slow-dep' }), 1);
    assert.equal(v('leash_rate_limited_total', { name: 'api' }), 1);
    assert.equal(v('leash_bulkhead_rejected_total', { name: 'db', reason: 'full' }), 1);
    assert.equal(v('leash_adaptive_limit', { name: 'orders' }), limit.limit);
    assert.ok(limit.limit > 2, `the aimd limit grew (${limit.limit})`);
    assert.equal(v('leash_hedges_total', { name: 'search' }), 1);

    assert.equal(v('leash_cache_requests_total', { name: 'users', tier: 'memory', result: 'miss' }), 1);
    assert.equal(v('leash_cache_requests_total', { name: 'users', tier: 'memory', result: 'hit' }), 1);
    assert.equal(v('leash_cache_load_duration_seconds_count', { name: 'users', outcome: 'ok' }), 1);

    assert.equal(v('leash_queue_enqueued_total', { queue: 'emails' }), 1);
    assert.equal(v('leash_queue_depth', { queue: 'emails' }), 2);
    assert.equal(v('leash_queue_running', { queue: 'emails' }), 0);
    assert.equal(v('leash_queue_wait_seconds_count', { queue: 'emails' }), 2);
    assert.ok(Math.abs((v('leash_queue_wait_seconds_sum', { queue: 'emails' }) ?? 0) - 0.05) < 1e-9);
    assert.equal(v('leash_queue_wait_seconds_bucket', { queue: 'emails', le: '0.025' }), 1);
    assert.equal(v('leash_queue_run_seconds_count', { queue: 'emails', outcome: 'completed' }), 1);
    assert.equal(v('leash_queue_run_seconds_count', { queue: 'emails', outcome: 'failed' }), 1);
    assert.equal(v('leash_queue_retries_total', { queue: 'emails' }), 1);
    assert.equal(v('leash_queue_dead_letters_total', { queue: 'emails' }), 1);
    assert.equal(v('leash_queue_cancelled_total', { queue: 'emails', running: 'true' }), 1);

    for (const stat of ['mean', 'p50', 'p90', 'p99', 'max']) {
      const d = v('leash_event_loop_delay_seconds', { stat });
      assert.ok(d !== undefined && d > 0 && d < 1, `delay ${stat} ${d}`);
    }
    const u = v('leash_event_loop_utilization');
    assert.ok(u !== undefined && u > 0 && u <= 1, `utilization ${u}`);

    // Every family the docs list is present, with its type.
    const families = [
      ['leash_tasks_live', 'gauge'],
      ['leash_tasks_started_total', 'counter'],
      ['leash_tasks_ended_total', 'counter'],
      ['leash_tasks_unhandled_total', 'counter'],
      ['leash_context_waits', 'gauge'],
      ['leash_context_abandoned_rejections_total', 'counter'],
      ['leash_http_requests_in_flight', 'gauge'],
      ['leash_http_requests_total', 'counter'],
      ['leash_http_request_duration_seconds', 'histogram'],
      ['leash_http_handler_errors_total', 'counter'],
      ['leash_breaker_state', 'gauge'],
      ['leash_breaker_transitions_total', 'counter'],
      ['leash_breaker_rejected_total', 'counter'],
      ['leash_bulkhead_rejected_total', 'counter'],
      ['leash_retries_total', 'counter'],
      ['leash_retry_give_ups_total', 'counter'],
      ['leash_timeouts_total', 'counter'],
      ['leash_rate_limited_total', 'counter'],
      ['leash_rate_limiter_store_errors_total', 'counter'],
      ['leash_adaptive_limit', 'gauge'],
      ['leash_hedges_total', 'counter'],
      ['leash_shed_total', 'counter'],
      ['leash_cache_requests_total', 'counter'],
      ['leash_cache_coalesced_total', 'counter'],
      ['leash_cache_stale_served_total', 'counter'],
      ['leash_cache_load_duration_seconds', 'histogram'],
      ['leash_queue_enqueued_total', 'counter'],
      ['leash_queue_depth', 'gauge'],
      ['leash_queue_running', 'gauge'],
      ['leash_queue_wait_seconds', 'histogram'],
      ['leash_queue_run_seconds', 'histogram'],
      ['leash_queue_retries_total', 'counter'],
      ['leash_queue_dead_letters_total', 'counter'],
      ['leash_queue_cancelled_total', 'counter'],
      ['leash_pg_cancels_total', 'counter'],
      ['leash_metrics_label_overflow_total', 'counter'],
      ['leash_event_loop_delay_seconds', 'gauge'],
      ['leash_event_loop_utilization', 'gauge'],
    ];
    assert.deepEqual([...e.types].sort(), families.sort());
    // No label anywhere carries a URL, a request id or a key.
    for (const s of e.samples) {
      for (const l of Object.values(s.labels))
        assert.ok(!/user=|\/ok|u1|job-/.test(l), `${s.name} label ${l}`);
    }
  } finally {
    metrics.stop();
  }
});

test('labels stay bounded against 100k hostile names, and a scrape stays O(series)', async () => {
  const register = new Registry();
  const metrics = collectMetrics({ register, eventLoop: false, maxNames: 20 });
  try {
    const hostile = (i: number): string =>
      i % 3 === 0 ? `"}\n# EOF ${i}\\` : i % 3 === 1 ? `${'x'.repeat(10_000)}${i}` : `user-${i}@example.com`;
    // Real policies: 100k breakers, each forced open once.
    for (let i = 0; i < 100_000; i++) circuitBreaker({ name: hostile(i) }).forceOpen();
    const first = await register.metrics();
    // Real caches (each holds a sketch, so fewer): cache lookups are counted from the caches'
    // tallies, not from events. (Past the process table's 1,000 names: tally-cap.test.ts, alone in
    // its process, since that table lasts as long as the process.)
    const CACHES = 200;
    for (let i = 0; i < CACHES; i++) createCache<number>({ name: hostile(i), maximumSize: 1 }).get('k');
    const enqueue = diagnostics_channel.channel('leash:queue:enqueue');
    for (let i = 0; i < 100_000; i++)
      enqueue.publish(Object.freeze({ queue: hostile(i), id: `${i}`, depth: i }));
    const e = parseExposition(await register.metrics());
    const names = (metric: string, label: string): Set<string> =>
      new Set(e.samples.filter((s) => s.name === metric).map((s) => s.labels[label] as string));
    for (const [metric, label] of [
      ['leash_breaker_state', 'name'],
      ['leash_breaker_transitions_total', 'name'],
      ['leash_cache_requests_total', 'name'],
      ['leash_queue_enqueued_total', 'queue'],
    ] as const) {
      const set = names(metric, label);
      assert.equal(set.size, 21, `${metric}: 20 names and other`);
      assert.ok(set.has('other'));
      for (const n of set) assert.ok(n.length <= 64, `${metric} label of ${n.length} chars`);
    }
    assert.deepEqual(names('leash_cache_requests_total', 'tier'), new Set(['memory']));
    const lookups = e.samples.filter((s) => s.name === 'leash_cache_requests_total');
    assert.equal(
      lookups.reduce((sum, s) => sum + s.value, 0),
      CACHES,
      'every lookup counted once',
    );
    // Every event is counted once: under its own name or, past the cap, under other (names cut to
    // 64 characters that collide share one label value).
    const transitions = e.samples.filter((s) => s.name === 'leash_breaker_transitions_total');
    assert.equal(
      transitions.reduce((sum, s) => sum + s.value, 0),
      100_000,
    );
    const overflow = value(e, 'leash_metrics_label_overflow_total', { kind: 'policy' }) ?? 0;
    assert.ok(overflow > 60_000, `overflow ${overflow}`);
    assert.equal(
      value(e, 'leash_breaker_transitions_total', { name: 'other', from: 'closed', to: 'forced-open' }),
      overflow,
    );
    // For caches, the overflow counts the lookups folded into other.
    const foldedLookups = value(e, 'leash_cache_requests_total', {
      name: 'other',
      tier: 'memory',
      result: 'miss',
    });
    assert.ok((foldedLookups ?? 0) > CACHES / 2, `folded ${foldedLookups}`);
    assert.equal(value(e, 'leash_metrics_label_overflow_total', { kind: 'cache' }), foldedLookups);
    assert.equal(value(e, 'leash_breaker_state', { name: 'other', state: 'forced-open' }), 1);
    // A hostile name is escaped, not injected: the scrape parsed, and the quote survives as data.
    assert.ok([...names('leash_breaker_state', 'name')].some((n) => n.startsWith('"}\n# EOF')));
    assert.ok(e.samples.length < 500, `${e.samples.length} samples`);

    // Whatever is published on a leash:* name, the observer never throws (a throwing subscriber
    // would become an uncaughtException and fail this test).
    const trap = new Proxy(
      {},
      {
        get() {
          throw new Error('hostile getter');
        },
      },
    );
    for (const name of [
      'leash:task:start',
      'leash:http:request-end',
      'leash:cache:load',
      'leash:queue:finish',
    ]) {
      for (const msg of [null, undefined, 42, 'x', trap, { id: {}, cause: trap, res: null, name: trap }]) {
        diagnostics_channel.channel(name).publish(msg);
      }
    }
    await new Promise((r) => setImmediate(r));

    // The scrape's cost follows the series, not the events: 200k more events change neither its
    // size nor (much) its time.
    const t0 = performance.now();
    const before = await register.metrics();
    const before_ms = performance.now() - t0;
    for (let i = 0; i < 200_000; i++)
      enqueue.publish(Object.freeze({ queue: hostile(i), id: `${i}`, depth: i }));
    const t1 = performance.now();
    const after = await register.metrics();
    const after_ms = performance.now() - t1;
    assert.ok(Math.abs(after.length - before.length) < 200, `${before.length} -> ${after.length} chars`);
    assert.ok(after_ms < 50, `scrape took ${after_ms.toFixed(1)} ms (before: ${before_ms.toFixed(1)} ms)`);
    assert.ok(first.length > 0);
  } finally {
    metrics.stop();
  }
});

test('event-loop delay and utilisation are per interval: high during a busy interval, back down after it', async () => {
  const register = new Registry();
  const metrics = collectMetrics({ register, eventLoop: { intervalMs: 100 } });
  try {
    await sleep(bg, 250);
    const read = async (): Promise<[number, number]> => {
      const e = await scrape(register);
      return [
        value(e, 'leash_event_loop_utilization') ?? -1,
        value(e, 'leash_event_loop_delay_seconds', { stat: 'max' }) ?? -1,
      ];
    };
    const [idleU] = await read();
    assert.ok(idleU < 0.5, `idle utilisation ${idleU}`);
    // Busy: block the loop 300 ms in 3 pieces (one lost to the sampler's reset cannot hide all).
    let peakU = 0;
    let peakDelay = 0;
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      while (performance.now() - t < 150) {}
      await new Promise((r) => setTimeout(r, 1));
      const [u, d] = await read();
      peakU = Math.max(peakU, u);
      peakDelay = Math.max(peakDelay, d);
    }
    for (let i = 0; i < 3; i++) {
      await sleep(bg, 60);
      const [u, d] = await read();
      peakU = Math.max(peakU, u);
      peakDelay = Math.max(peakDelay, d);
    }
    assert.ok(peakU > 0.6, `busy utilisation ${peakU}`);
    assert.ok(peakDelay >= 0.1, `busy max delay ${peakDelay}`);
    // Two quiet intervals later, both are back down: nothing since start is kept.
    await sleep(bg, 350);
    const [u, d] = await read();
    assert.ok(u < 0.5, `utilisation after ${u}`);
    assert.ok(d < 0.08, `max delay after ${d}`);
  } finally {
    metrics.stop();
  }
});

test('stop() unsubscribes, unregisters and leaves no timer; a new collectMetrics can take the names again', async () => {
  const register = new Registry();
  const names = [
    'leash:task:start',
    'leash:http:handler-error',
    'leash:cache:load',
    'leash:queue:depth',
    'leash:resilience:breaker:state-change',
  ];
  // Per-request and per-lookup counts come from the layers' tallies: no event is published for
  // them unless someone else subscribes (httpDuration: true subscribes to the request events).
  const perCall = [
    'leash:http:request-start',
    'leash:http:request-end',
    'leash:cache:hit',
    'leash:cache:miss',
  ];
  const before = names.map((n) => diagnostics_channel.channel(n).hasSubscribers);
  const metrics = collectMetrics({ register, prefix: 'app_', eventLoop: { intervalMs: 10 } });
  assert.ok(names.every((n) => diagnostics_channel.channel(n).hasSubscribers));
  assert.deepEqual(
    perCall.map((n) => diagnostics_channel.channel(n).hasSubscribers),
    [false, false, false, false],
  );
  assert.throws(() => collectMetrics({ register, prefix: 'app_' }), /already registered/);
  assert.ok(register.getSingleMetric('app_tasks_live') !== undefined);
  await sleep(bg, 30);
  metrics.stop();
  metrics.stop();
  assert.deepEqual(
    names.map((n) => diagnostics_channel.channel(n).hasSubscribers),
    before,
  );
  assert.equal(await register.metrics(), '\n');
  await verifyNone();
  const again = collectMetrics({ register, prefix: 'app_', eventLoop: false });
  again.stop();
});

test('bad options throw TypeError LEASH_ERR_INVALID_ARG, with a suggestion for a typo', () => {
  const register = new Registry();
  const bad: unknown[] = [
    undefined,
    {},
    { register: {} },
    { register, prefx: 'x_' },
    { register, prefix: 'has space' },
    { register, maxNames: 0 },
    { register, buckets: [] },
    { register, buckets: [1, 0.5] },
    { register, eventLoop: { intervalMs: 1 } },
    { register, eventLoop: { interval: 100 } },
    { register, httpDuration: 1 },
  ];
  for (const o of bad) {
    assert.throws(
      () => collectMetrics(o as never),
      (err: unknown) =>
        err instanceof TypeError && (err as { code?: string }).code === 'LEASH_ERR_INVALID_ARG',
      JSON.stringify(o, (k, v) => (k === 'register' ? '[Registry]' : v)),
    );
  }
  assert.throws(() => collectMetrics({ register, prefx: 'x_' } as never), /did you mean "prefix"/);
  assert.equal(register.getMetricsAsArray().length, 0);
});

test('the request duration histogram is there only with httpDuration: true', async () => {
  const register = new Registry();
  const off = collectMetrics({ register, eventLoop: false });
  assert.equal(register.getSingleMetric('leash_http_request_duration_seconds'), undefined);
  assert.ok(register.getSingleMetric('leash_http_requests_total') !== undefined);
  off.stop();
  const on = collectMetrics({ register, eventLoop: false, httpDuration: true });
  assert.ok(register.getSingleMetric('leash_http_request_duration_seconds') !== undefined);
  on.stop();
});

test("a Redis queue's enqueue (depth -1: not known at enqueue) leaves the last reported depth alone", async () => {
  const register = new Registry();
  const metrics = collectMetrics({ register, eventLoop: false });
  try {
    diagnostics_channel.channel('leash:queue:depth').publish(Object.freeze({ queue: 'jobs', depth: 7 }));
    diagnostics_channel
      .channel('leash:queue:enqueue')
      .publish(Object.freeze({ queue: 'jobs', id: 'a', depth: -1 }));
    const e = parseExposition(await register.metrics());
    assert.equal(value(e, 'leash_queue_depth', { queue: 'jobs' }), 7);
    assert.equal(value(e, 'leash_queue_enqueued_total', { queue: 'jobs' }), 1);
  } finally {
    metrics.stop();
  }
});

test('request and cache counts are read from the layers at scrape: since start, exact under shedding, open requests counted', async () => {
  const breaker = circuitBreaker({ name: 'closed-upstream' });
  breaker.forceOpen();
  const shed = shedLoad(breaker);
  let release: (() => void) | undefined;
  const server = http.createServer(
    withContext(bg, async (req, res) => {
      if (req.url === '/shed') shed(req, res, () => res.end('not shed'));
      else if (req.url === '/busy') {
        // The handler's own 503: finished, not shed.
        res.statusCode = 503;
        res.end('busy');
      } else if (req.url === '/hold') {
        await new Promise<void>((r) => {
          release = r;
        });
        res.end('held');
      } else res.end('ok');
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const users = createCache<number>({ name: 'pulled-users', maximumSize: 10 });
  users.set('a', 1);
  const register = new Registry();
  let metrics: { stop(): void } | undefined;
  try {
    // Before the collector: not counted, except the request still open when it starts.
    assert.equal(await get(port, '/ok'), 200);
    assert.equal(users.get('a'), 1);
    const held = get(port, '/hold');
    while (release === undefined) await sleep(bg, 5);
    metrics = collectMetrics({ register, eventLoop: false });
    let e = await scrape(register);
    assert.equal(value(e, 'leash_http_requests_in_flight'), 1);
    assert.equal(value(e, 'leash_http_requests_total', { outcome: 'finished' }), 0);
    assert.equal(
      value(e, 'leash_cache_requests_total', { name: 'pulled-users', tier: 'memory', result: 'hit' }),
      undefined,
    );

    // A shed 503 and a handler's 503 in flight together: each is counted as what it was.
    const answers = await Promise.all([get(port, '/shed'), get(port, '/busy'), get(port, '/shed')]);
    assert.deepEqual(answers, [503, 503, 503]);
    release?.();
    assert.equal(await held, 200);
    // Two caches of one name count as one; a get and a getOrLoad hit alike.
    const again = createCache<number>({ name: 'pulled-users', maximumSize: 10 });
    assert.equal(users.get('a'), 1);
    assert.equal(users.get('b'), undefined);
    assert.equal(again.get('a'), undefined);
    assert.equal(await users.getOrLoad(bg, 'a', async () => 2), 1);
    await sleep(bg, 20);
    e = await scrape(register);
    assert.equal(value(e, 'leash_http_requests_total', { outcome: 'shed' }), 2);
    assert.equal(value(e, 'leash_http_requests_total', { outcome: 'finished' }), 2, '/busy and /hold');
    assert.equal(value(e, 'leash_shed_total'), 2);
    assert.equal(value(e, 'leash_http_requests_in_flight'), 0);
    assert.equal(
      value(e, 'leash_cache_requests_total', { name: 'pulled-users', tier: 'memory', result: 'hit' }),
      2,
    );
    assert.equal(
      value(e, 'leash_cache_requests_total', { name: 'pulled-users', tier: 'memory', result: 'miss' }),
      2,
    );

    // A second collector counts from its own start; stopping the first changes nothing for it.
    const second = new Registry();
    const other = collectMetrics({ register: second, eventLoop: false, prefix: 'two_' });
    metrics.stop();
    metrics = other;
    assert.equal(await get(port, '/ok'), 200);
    await sleep(bg, 20);
    e = await scrape(second);
    assert.equal(value(e, 'two_http_requests_total', { outcome: 'finished' }), 1);
    assert.equal(value(e, 'two_http_requests_total', { outcome: 'shed' }), 0);
  } finally {
    metrics?.stop();
    await new Promise((r) => server.close(r));
  }
});
