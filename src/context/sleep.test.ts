import assert from 'node:assert/strict';
import { test } from 'node:test';
import { background, isCanceled, isDeadlineExceeded, sleep, withCancel, withTimeout } from './index.js';
import { childCount } from './test-support/inspect.js';

function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

test('sleep resolves after ms and leaves no timer and no link', async () => {
  const [ctx, cancel] = withCancel(background());
  const before = timers();
  const t0 = Date.now();
  await sleep(ctx, 30);
  assert.ok(Date.now() - t0 >= 25);
  assert.equal(timers(), before);
  assert.equal(childCount(ctx), 0);
  cancel();
});

test('sleep rejects with ctx.err when cancelled, clearing its timer at once', async () => {
  const [ctx, cancel] = withCancel(background());
  const before = timers();
  const p = sleep(ctx, 60_000);
  assert.equal(timers(), before + 1);
  assert.equal(childCount(ctx), 1);
  cancel();
  await assert.rejects(p, (e) => isCanceled(e) && e === ctx.err);
  assert.equal(timers(), before);
  assert.equal(childCount(ctx), 0);
});

test('sleep rejects with DeadlineExceeded at the deadline', async () => {
  const [ctx] = withTimeout(background(), 20);
  await assert.rejects(sleep(ctx, 60_000), (e) => isDeadlineExceeded(e));
});

test('sleep on a done context rejects at once; sleep(ctx, Infinity) waits for ctx alone', async () => {
  const [done, cancel] = withCancel(background());
  cancel();
  await assert.rejects(sleep(done, 10), (e) => isCanceled(e));
  const [ctx] = withTimeout(background(), 20);
  await assert.rejects(sleep(ctx, Number.POSITIVE_INFINITY), (e) => isDeadlineExceeded(e));
});

test('sleep rejects bad durations', () => {
  for (const ms of [-1, Number.NaN, '5', undefined]) {
    assert.throws(() => sleep(background(), ms as number), { code: 'LEASH_ERR_INVALID_ARG' });
  }
});

test('sleep accepts durations beyond setTimeout range (waits in steps) and still cancels', async () => {
  const [ctx, cancel] = withCancel(background());
  const p = sleep(ctx, 3e9);
  const before = timers();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(timers(), before, 'still pending on one timer, not fired early');
  cancel();
  await assert.rejects(p, (e) => isCanceled(e));
});
