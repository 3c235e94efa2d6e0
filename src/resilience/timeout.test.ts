import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  background,
  type Context,
  cause,
  isDeadlineExceeded,
  sleep,
  withCancel,
  withTimeout,
} from '../context/index.js';
import { childCount, deadlineTimerStats } from '../context/test-support/inspect.js';
import { fallback, timeout, wrap } from './index.js';

const never = (): Promise<never> => new Promise<never>(() => {});

test('timeout gives fn the sooner of the parent deadline and now + ms', async () => {
  let seen: Context | undefined;
  const t0 = Date.now();
  await timeout(1_000).execute(background(), async (ctx) => {
    seen = ctx;
  });
  assert.ok(
    seen?.deadline !== undefined && seen.deadline >= t0 + 1_000 && seen.deadline <= Date.now() + 1_000,
  );
  const [parent, cancel] = withTimeout(background(), 50);
  await timeout(10_000).execute(parent, async (ctx) => {
    assert.equal(ctx.deadline, parent.deadline);
  });
  cancel();
});

test('timeout releases the caller at the timeout even when fn ignores its context', async () => {
  const t0 = performance.now();
  let workCtx: Context | undefined;
  let workDone = false;
  const p = timeout(30).execute(background(), async (ctx) => {
    workCtx = ctx;
    await new Promise((r) => setTimeout(r, 120)); // ignores ctx
    workDone = true;
    return 1;
  });
  await assert.rejects(p, (e) => isDeadlineExceeded(e));
  const elapsed = performance.now() - t0;
  assert.ok(elapsed >= 25 && elapsed < 110, `released after ${elapsed} ms`);
  assert.equal(workDone, false, 'the work is still running');
  assert.ok(isDeadlineExceeded(workCtx?.err), 'the work runs under a cancelled context');
  assert.match(String((cause(workCtx!) as Error).message), /timed out after 30 ms/);
  await sleep(background(), 120);
  assert.equal(workDone, true);
});

test('timeout uses the shared timer queue: a thousand pending calls arm one Node timer', async () => {
  const before = deadlineTimerStats();
  const policy = timeout(60_000);
  const [ctx, cancel] = withCancel(background());
  const calls = Array.from({ length: 1000 }, () => policy.execute(ctx, () => never()));
  const during = deadlineTimerStats();
  assert.equal(during.deadlines - before.deadlines, 1000);
  assert.ok(during.nodeTimers <= 1);
  cancel();
  const results = await Promise.allSettled(calls);
  assert.ok(results.every((r) => r.status === 'rejected' && r.reason === ctx.err));
  assert.equal(deadlineTimerStats().deadlines, before.deadlines, 'every deadline left the queue');
  assert.equal(childCount(ctx), 0);
});

test('a finished call leaves no deadline and no link behind', async () => {
  const before = deadlineTimerStats().deadlines;
  const [ctx, cancel] = withCancel(background());
  const policy = timeout(5_000);
  for (let i = 0; i < 1000; i++) assert.equal(await policy.execute(ctx, async () => i), i);
  await assert.rejects(
    policy.execute(ctx, async () => {
      throw new Error('boom');
    }),
    /boom/,
  );
  await new Promise((r) => setImmediate(r));
  assert.equal(deadlineTimerStats().deadlines, before);
  assert.equal(childCount(ctx), 0);
  cancel();
});

test('a caller whose context ends gets ctx.err at once, not a timeout', async () => {
  const [ctx, cancel] = withCancel(background());
  const p = timeout(10_000).execute(ctx, () => never());
  setTimeout(cancel, 5);
  await assert.rejects(p, (e) => e === ctx.err);
  const [done, c2] = withCancel(background());
  c2();
  let called = false;
  await assert.rejects(
    timeout(10).execute(done, async () => {
      called = true;
    }),
    (e) => e === done.err,
  );
  assert.equal(called, false);
});

test("a fallback around a timeout answers the policy's timeout, never the caller's own deadline", async () => {
  const policy = wrap(
    fallback(async () => 'fallback'),
    timeout(20),
  );
  assert.equal(await policy.execute(background(), () => never()), 'fallback');
  // Timeout outside the fallback: the timeout releases its caller first, as in cockatiel.
  const outer = wrap(
    timeout(20),
    fallback(async () => 'fallback'),
  );
  await assert.rejects(
    outer.execute(background(), (ctx) => sleep(ctx, 1_000).then(() => 'late')),
    (e) => isDeadlineExceeded(e),
  );
  const [ctx] = withTimeout(background(), 20);
  await assert.rejects(
    fallback(async () => 'fallback').execute(ctx, (c) => sleep(c, 1_000)),
    (e) => isDeadlineExceeded(e),
  );
});

test('options are validated when the policy is made', () => {
  for (const bad of [-1, Number.NaN, '10', undefined]) {
    assert.throws(() => timeout(bad as number), { name: 'TypeError', code: 'LEASH_ERR_INVALID_ARG' });
  }
  assert.throws(() => timeout(10, { nam: 'x' } as never), /did you mean "name"/);
  assert.throws(() => timeout(10).execute({} as Context, async () => 1), { code: 'LEASH_ERR_INVALID_ARG' });
});
