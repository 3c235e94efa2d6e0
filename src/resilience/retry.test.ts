import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { test } from 'node:test';
import { background, sleep, withCancel, withTimeout } from '../context/index.js';
import {
  constantBackoff,
  exponentialBackoff,
  RateLimitedError,
  type RetryGiveUpEvent,
  retry,
  retryBudget,
} from './index.js';

const bg = background();
const failing = (times: number, value = 'ok') => {
  let n = 0;
  const fn = async (): Promise<string> => {
    n++;
    if (n <= times) throw new Error(`fail ${n}`);
    return value;
  };
  return { fn, calls: () => n };
};

function giveUps(): { events: RetryGiveUpEvent[]; stop: () => void } {
  const events: RetryGiveUpEvent[] = [];
  const on = (m: unknown): void => void events.push(m as RetryGiveUpEvent);
  diagnostics_channel.subscribe('leash:resilience:retry:give-up', on);
  return { events, stop: () => diagnostics_channel.unsubscribe('leash:resilience:retry:give-up', on) };
}

test('retry makes at most maxAttempts attempts, the first included, and rejects with the last error', async () => {
  const f = failing(10);
  await assert.rejects(retry({ maxAttempts: 3, backoff: constantBackoff(1) }).execute(bg, f.fn), /fail 3/);
  assert.equal(f.calls(), 3);
  const g = failing(2);
  assert.equal(await retry({ maxAttempts: 3, backoff: constantBackoff(1) }).execute(bg, g.fn), 'ok');
  assert.equal(g.calls(), 3);
});

test('an open circuit is not retried by default; retryOn can ask for it', async () => {
  const open = Object.assign(new Error('open'), { code: 'LEASH_ERR_CIRCUIT_OPEN', retryAfterMs: 5 });
  let n = 0;
  const fn = async (): Promise<never> => {
    n++;
    throw open;
  };
  await assert.rejects(retry({ maxAttempts: 3 }).execute(bg, fn), /open/);
  assert.equal(n, 1);
  await assert.rejects(retry({ maxAttempts: 3, retryOn: () => true }).execute(bg, fn), /open/);
  assert.equal(n, 4, 'retried after its retryAfterMs');
});

test('retryOn stops at an error not worth retrying', async () => {
  const f = failing(10);
  await assert.rejects(
    retry({ maxAttempts: 5, backoff: constantBackoff(0), retryOn: (_e, attempt) => attempt < 2 }).execute(
      bg,
      f.fn,
    ),
    /fail 2/,
  );
  assert.equal(f.calls(), 2);
});

test('no retry starts that cannot finish before the deadline', async () => {
  const starts: number[] = [];
  let n = 0;
  const policy = retry({ maxAttempts: 100, backoff: constantBackoff(100) });
  const [ctx, cancel] = withTimeout(bg, 400);
  const g = giveUps();
  const t0 = performance.now();
  await assert.rejects(
    policy.execute(ctx, async () => {
      starts.push(performance.now() - t0);
      throw new Error(`fail ${++n}`);
    }),
    /fail/,
    'gave up with the last error, not the deadline',
  );
  g.stop();
  assert.equal(ctx.err, undefined, 'gave up before the deadline');
  assert.ok(n >= 2 && n <= 4, `attempts ${n}`);
  // Each retry started with room for its wait before the deadline.
  for (const s of starts) assert.ok(s < 400, `attempt at ${s} ms`);
  assert.equal(g.events.at(-1)?.reason, 'deadline');
  cancel();
});

test('the running estimate of attempt latency keeps a slow attempt from starting late', async () => {
  let n = 0;
  const policy = retry({ maxAttempts: 10, backoff: constantBackoff(1) });
  const [ctx, cancel] = withTimeout(bg, 250);
  await assert.rejects(
    policy.execute(ctx, async () => {
      n++;
      await sleep(bg, 100); // each attempt takes 100 ms and fails
      throw new Error(`fail ${n}`);
    }),
    /fail 2/,
  );
  // Attempt 3 would start at ~200 ms and need ~100: it cannot finish by 250.
  assert.equal(n, 2);
  assert.equal(ctx.err, undefined);
  assert.ok(policy.attemptEstimateMs >= 90);
  cancel();
});

test('a backoff wait is cancelled with the context: the caller gets ctx.err at once', async () => {
  const [ctx, cancel] = withCancel(bg);
  const f = failing(10);
  const p = retry({ maxAttempts: 5, backoff: constantBackoff(10_000) }).execute(ctx, f.fn);
  await sleep(bg, 5);
  const t0 = performance.now();
  cancel();
  await assert.rejects(p, (e) => e === ctx.err);
  assert.ok(performance.now() - t0 < 20);
  assert.equal(f.calls(), 1);
  const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  assert.equal(timers, 0, 'the backoff timer is gone');
});

test("the caller's cancellation is never retried", async () => {
  const [ctx, cancel] = withCancel(bg);
  let calls = 0;
  const p = retry({ maxAttempts: 5, backoff: constantBackoff(0) }).execute(ctx, (c) => {
    calls++;
    return sleep(c, 1_000);
  });
  setTimeout(cancel, 5);
  await assert.rejects(p, (e) => e === ctx.err);
  await sleep(bg, 10);
  assert.equal(calls, 1);
});

test('retryAfter: the wait is at least what the error asks for (RateLimitedError by default)', async () => {
  let n = 0;
  const times: number[] = [];
  const t0 = performance.now();
  const v = await retry({ maxAttempts: 2, backoff: constantBackoff(0) }).execute(bg, async () => {
    times.push(performance.now() - t0);
    if (n++ === 0) throw new RateLimitedError(40);
    return 'ok';
  });
  assert.equal(v, 'ok');
  assert.ok((times[1] as number) >= 38, `waited ${times[1]} ms`);
  // A custom delegate (an HTTP Retry-After header, in seconds).
  let m = 0;
  const t1 = performance.now();
  await retry({
    maxAttempts: 2,
    backoff: constantBackoff(0),
    retryAfter: (e) => Number((e as { headers?: Record<string, string> }).headers?.['retry-after']) * 1000,
  }).execute(bg, async () => {
    if (m++ === 0) throw Object.assign(new Error('503'), { headers: { 'retry-after': '0.03' } });
  });
  assert.ok(performance.now() - t1 >= 28);
  // A Retry-After past the deadline gives up at once.
  const [ctx, cancel] = withTimeout(bg, 50);
  await assert.rejects(
    retry({ maxAttempts: 3 }).execute(ctx, async () => {
      throw new RateLimitedError(5_000);
    }),
    RateLimitedError,
  );
  cancel();
});

test('a retry budget shared by two policies caps retries at ratio * calls + the floor', async () => {
  const budget = retryBudget({ ratio: 0.1, minPerSecond: 0.5, windowMs: 10_000 }); // floor: 5 retries
  const a = retry({ maxAttempts: 3, backoff: constantBackoff(0), budget });
  const b = retry({ maxAttempts: 3, backoff: constantBackoff(0), budget });
  let attempts = 0;
  const fn = async (): Promise<never> => {
    attempts++;
    throw new Error('down');
  };
  const g = giveUps();
  for (let i = 0; i < 50; i++) await assert.rejects((i % 2 ? a : b).execute(bg, fn), /down/);
  g.stop();
  // 50 calls allow 0.1 * 50 + 5 = 10 retries in all, instead of 100.
  assert.equal(attempts, 60);
  assert.equal(budget.available, 0);
  assert.ok(g.events.filter((e) => e.reason === 'budget').length >= 40);
});

test('backoffs: constant, exponential with each jitter, decorrelated within its bounds', () => {
  assert.equal(constantBackoff(7).delayMs(3, 0), 7);
  const none = exponentialBackoff({ initialMs: 10, maxMs: 100, jitter: 'none' });
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((a) => none.delayMs(a, 0)),
    [10, 20, 40, 80, 100],
  );
  const full = exponentialBackoff({ initialMs: 10, maxMs: 100, jitter: 'full' });
  const equal = exponentialBackoff({ initialMs: 10, maxMs: 100, jitter: 'equal' });
  const dec = exponentialBackoff({ initialMs: 10, maxMs: 100, jitter: 'decorrelated' });
  let prev = 0;
  for (let i = 0; i < 1000; i++) {
    const a = (i % 6) + 1;
    const base = Math.min(100, 10 * 2 ** (a - 1));
    const f = full.delayMs(a, 0);
    assert.ok(f >= 0 && f <= base);
    const e = equal.delayMs(a, 0);
    assert.ok(e >= base / 2 && e <= base);
    const d = dec.delayMs(a, prev);
    assert.ok(d >= 10 && d <= Math.min(100, Math.max(10, prev) * 3));
    prev = d;
  }
});

test('retry options are validated when it is made', () => {
  for (const o of [
    { maxAttempts: 0 },
    { maxAttempts: 1.5 },
    { backoff: 5 },
    { retryOn: true },
    { budget: {} },
  ]) {
    assert.throws(() => retry(o as never), { name: 'TypeError', code: 'LEASH_ERR_INVALID_ARG' });
  }
  assert.throws(() => retry({ maxAttempt: 3 } as never), /did you mean "maxAttempts"/);
  assert.throws(() => exponentialBackoff({ initialMs: 10, maxMs: 5 }), { code: 'LEASH_ERR_INVALID_ARG' });
  assert.throws(() => exponentialBackoff({ jitter: 'ful' as never }), /did you mean "full"/);
  assert.throws(() => retryBudget({ ratio: -1 }), { code: 'LEASH_ERR_INVALID_ARG' });
  assert.throws(() => constantBackoff(-1), { code: 'LEASH_ERR_INVALID_ARG' });
});
