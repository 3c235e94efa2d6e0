// Includes the cases of Sentinel's flow control that apply (DefaultController: reject over the
// count; RateLimiterController: pace calls, queue up to maxQueueingTimeMs; ParamFlow: per-key).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { background, createKey, sleep, withCancel, withTimeout, withValue } from '../context/index.js';
import { BulkheadRejectedError, bulkhead, RateLimitedError, rateLimiter } from './index.js';

const bg = background();

test('a burst is admitted at once, the next call is limited with an exact retryAfterMs', async () => {
  const rl = rateLimiter({ rate: 10, perMs: 1_000, burst: 3 });
  const t0 = performance.now();
  for (let i = 0; i < 3; i++) assert.equal(await rl.execute(bg, async () => i), i);
  let called = false;
  const e = await rl
    .execute(bg, async () => {
      called = true;
    })
    .catch((x) => x);
  assert.equal(called, false);
  assert.ok(e instanceof RateLimitedError && e.code === 'LEASH_ERR_RATE_LIMITED');
  // The next token is due 100 ms after the burst's first call: exact up to the time this test took.
  const elapsed = performance.now() - t0;
  assert.ok(
    e.retryAfterMs >= 100 - elapsed - 1 && e.retryAfterMs <= 100,
    `retryAfterMs ${e.retryAfterMs} after ${elapsed} ms`,
  );
});

test('the bucket refills at rate per perMs', async () => {
  const rl = rateLimiter({ rate: 1, perMs: 20, burst: 1 });
  assert.equal(rl.tryTake(), true);
  assert.equal(rl.tryTake(), false);
  await sleep(bg, 25);
  assert.equal(rl.tryTake(), true);
  assert.equal(rl.tryTake(), false);
});

test('admits no more than burst + rate * elapsed over a busy period', async () => {
  const rl = rateLimiter({ rate: 5, perMs: 10, burst: 4 });
  const t0 = performance.now();
  let admitted = 0;
  while (performance.now() - t0 < 50) {
    if (rl.tryTake()) admitted++;
    await new Promise((r) => setImmediate(r));
  }
  const elapsed = performance.now() - t0;
  assert.ok(admitted <= 4 + Math.ceil((5 * elapsed) / 10) + 1, `admitted ${admitted} in ${elapsed} ms`);
  assert.ok(admitted >= 5, `admitted ${admitted}`);
});

test("'wait' paces calls one interval apart (Sentinel's RateLimiterController)", async () => {
  const rl = rateLimiter({ rate: 1, perMs: 15, burst: 1, onLimit: 'wait' });
  const t0 = performance.now();
  const at: number[] = [];
  await Promise.all([0, 1, 2, 3].map(() => rl.execute(bg, async () => void at.push(performance.now() - t0))));
  at.sort((a, b) => a - b);
  // Timers may fire late on a busy machine, never early: call i starts no sooner than its slot.
  for (let i = 1; i < at.length; i++) assert.ok((at[i] as number) >= i * 15 - 2, `${at}`);
});

test("'wait' rejects at once a wait longer than maxWaitMs or the caller's remaining budget", async () => {
  const rl = rateLimiter({ rate: 1, perMs: 100, burst: 1, onLimit: 'wait', maxWaitMs: 150 });
  assert.equal(rl.tryTake(), true);
  const [ctx, cancel] = withTimeout(bg, 50);
  const t0 = performance.now();
  await assert.rejects(
    rl.execute(ctx, async () => 1),
    RateLimitedError,
  );
  assert.ok(performance.now() - t0 < 40, 'rejected at once, not after the 100 ms wait');
  cancel();
  // Within both bounds: waits its turn (one interval, 100 ms).
  const waiting = rl.execute(bg, async () => 2);
  // Two intervals ahead (200 ms) is beyond maxWaitMs: rejected at once.
  await assert.rejects(
    rl.execute(bg, async () => 3),
    RateLimitedError,
  );
  assert.equal(await waiting, 2);
});

test('a waiter whose context ends gets ctx.err at once and gives its slot back', async () => {
  const rl = rateLimiter({ rate: 1, perMs: 50, burst: 1, onLimit: 'wait' });
  assert.equal(rl.tryTake(), true);
  const [ctx, cancel] = withCancel(bg);
  let ran = false;
  const p = rl.execute(ctx, async () => {
    ran = true;
  });
  cancel();
  await assert.rejects(p, (e) => e === ctx.err);
  assert.equal(ran, false);
  await sleep(bg, 55);
  assert.equal(rl.tryTake(), true, 'the slot the waiter reserved was given back');
});

test('per-key limits are independent, and at most maxKeys are remembered', async () => {
  const rl = rateLimiter({ rate: 1, perMs: 60_000, burst: 1, maxKeys: 100 });
  assert.equal(rl.tryTake('a'), true);
  assert.equal(rl.tryTake('a'), false);
  assert.equal(rl.tryTake('b'), true);
  for (let i = 0; i < 10_000; i++) rl.tryTake(`user-${i}`);
  assert.equal(rl.keys, 100);
  // A key used recently stays limited while cold ones are forgotten.
  const hot = rateLimiter({ rate: 1, perMs: 60_000, burst: 1, maxKeys: 10 });
  hot.tryTake('hot');
  for (let i = 0; i < 100; i++) {
    hot.tryTake(`cold-${i}`);
    assert.equal(hot.tryTake('hot'), false);
  }
});

const userKey = createKey<string>('user');

test('key(ctx) picks the bucket', async () => {
  const rl = rateLimiter({ rate: 1, perMs: 60_000, burst: 2, key: (c) => c.value(userKey) ?? 'anon' });
  const ada = withValue(bg, userKey, 'ada');
  const bob = withValue(bg, userKey, 'bob');
  await rl.execute(ada, async () => 1);
  await rl.execute(ada, async () => 1);
  await assert.rejects(
    rl.execute(ada, async () => 1),
    RateLimitedError,
  );
  assert.equal(await rl.execute(bob, async () => 2), 2);
});

test('rateLimiter options are validated when it is made', () => {
  for (const o of [
    {},
    { rate: 0 },
    { rate: 1, burst: 0 },
    { rate: 1, onLimit: 'queue' },
    { rate: 1, perMs: -1 },
    { rate: 1, key: 'user' },
  ]) {
    assert.throws(() => rateLimiter(o as never), { name: 'TypeError', code: 'LEASH_ERR_INVALID_ARG' });
  }
  assert.throws(() => rateLimiter({ rate: 1, onLimit: 'wai' as never }), /did you mean "wait"/);
});

// Sentinel's flow-control controller tests (sentinel-core, slots/block/flow/controller), ported.
// Its WarmUp controllers have no counterpart here (leash has no warm-up shaping), and its
// "zero attack" case (a count of 0 blocks every call) is refused at creation instead: rate 0 is
// LEASH_ERR_INVALID_ARG, so a limiter that can never admit anything is a visible mistake.

test('Sentinel DefaultControllerTest.testCanPassForQps: under the count passes, at the count is refused', () => {
  const threshold = 10;
  const rl = rateLimiter({ rate: threshold, perMs: 1_000, burst: threshold });
  for (let i = 0; i < threshold - 1; i++) rl.tryTake();
  assert.equal(rl.tryTake(), true, 'the call at threshold - 1 passes');
  assert.equal(rl.tryTake(), false, 'the call at the threshold is refused');
  assert.throws(() => rateLimiter({ rate: 0 }), { code: 'LEASH_ERR_INVALID_ARG' });
});

test('Sentinel DefaultControllerTest.testCanPassForThreadCount: the thread grade is a bulkhead without a queue', async () => {
  const threshold = 8;
  const b = bulkhead({ limit: threshold, queue: 0 });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const running = Array.from({ length: threshold - 1 }, () => b.execute(bg, () => gate));
  const last = b.execute(bg, () => gate);
  await assert.rejects(
    b.execute(bg, () => gate),
    BulkheadRejectedError,
  );
  release();
  await Promise.all([...running, last]);
});

test("Sentinel RateLimiterControllerTest.testPaceController_normal: 6 calls at 10/s within 500 ms' queueing all pass, paced over > 400 ms", async () => {
  const rl = rateLimiter({ rate: 10, perMs: 1_000, burst: 1, onLimit: 'wait', maxWaitMs: 500 });
  const t0 = performance.now();
  for (let i = 0; i < 6; i++) await rl.execute(bg, async () => {});
  assert.ok(performance.now() - t0 > 400, `took ${(performance.now() - t0).toFixed(0)} ms`);
});

test('Sentinel RateLimiterControllerTest.testPaceController_timeout: 10 concurrent calls, the ones that would queue past 500 ms are refused', async () => {
  const rl = rateLimiter({ rate: 10, perMs: 1_000, burst: 1, onLimit: 'wait', maxWaitMs: 500 });
  const results = await Promise.allSettled(Array.from({ length: 10 }, () => rl.execute(bg, async () => 1)));
  const passed = results.filter((r) => r.status === 'fulfilled').length;
  const refused = results.filter((r) => r.status === 'rejected');
  assert.ok(refused.length > 0, 'some calls are refused');
  // Slots every 100 ms: the calls whose slot is at most 500 ms away wait for it (0, 100, ..., 500).
  assert.equal(passed, 6);
  for (const r of refused) assert.ok((r as PromiseRejectedResult).reason instanceof RateLimitedError);
});
