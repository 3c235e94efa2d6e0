// Ports of Go's TestDeadline, TestTimeout, TestCanceledTimeout, TestLayersTimeout,
// TestDeadlineExceededSupportsTimeout, plus leash's shared-timer rules.
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { describe, test } from 'node:test';
import {
  background,
  cause,
  createKey,
  DeadlineExceededError,
  isCanceled,
  isDeadlineExceeded,
  remaining,
  withCancel,
  withDeadline,
  withDeadlineCause,
  withTimeout,
  withValue,
} from './index.js';
import { childCount, deadlineTimerStats } from './test-support/inspect.js';

describe('deadlines', () => {
  test('TestDeadline: a context with a deadline is done with DeadlineExceeded when it passes', async () => {
    const start = Date.now();
    const [ctx, cancel] = withDeadline(background(), new Date(start + 50));
    assert.match(String(ctx), /^context\.Background\.WithDeadline\(/);
    assert.equal(ctx.deadline, start + 50);
    await ctx.done;
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= 45, `done after ${elapsed}ms, before the deadline`);
    assert.ok(ctx.err instanceof DeadlineExceededError);
    assert.equal(ctx.err.name, 'TimeoutError');
    assert.equal(ctx.err.timeout, true);
    assert.equal(cause(ctx), ctx.err);
    cancel();
    assert.ok(isDeadlineExceeded(ctx.err), 'cancel after the deadline changes nothing');
  });

  test('TestTimeout: withTimeout through value and cancel layers', async () => {
    const [p] = withCancel(background());
    const v = withValue(p, createKey('k'), 1);
    const [ctx] = withTimeout(v, 40);
    const [grandchild] = withCancel(ctx);
    await grandchild.done;
    assert.ok(isDeadlineExceeded(ctx.err));
    assert.ok(isDeadlineExceeded(grandchild.err), 'descendants take the deadline error');
    assert.equal(p.err, undefined, 'the parent is untouched');
  });

  test('TestCanceledTimeout: cancelling before the deadline gives Canceled and removes the timer', async () => {
    const before = deadlineTimerStats().deadlines;
    const [ctx, cancel] = withTimeout(background(), 1_000);
    assert.equal(deadlineTimerStats().deadlines, before + 1);
    cancel();
    assert.ok(isCanceled(ctx.err));
    assert.equal(deadlineTimerStats().deadlines, before, 'the cancelled context timer is gone at once');
  });

  test('an already-past deadline cancels at once with DeadlineExceeded and its cause', () => {
    const why = new Error('too late');
    const [ctx] = withDeadlineCause(background(), Date.now() - 1_000, why);
    assert.ok(isDeadlineExceeded(ctx.err));
    assert.equal(cause(ctx), why);
    const [zero] = withTimeout(background(), 0);
    assert.ok(isDeadlineExceeded(zero.err));
    assert.equal(remaining(zero), 0);
  });

  test('a child never has a later deadline than its parent; a later one is a plain withCancel', async () => {
    const [parent] = withTimeout(background(), 50);
    const [later, cancelLater] = withTimeout(parent, 60_000);
    assert.equal(later.deadline, parent.deadline);
    assert.doesNotMatch(String(later), /WithDeadline\(.*WithDeadline/, 'no second timer context');
    const [sooner] = withTimeout(parent, 10);
    assert.ok((sooner.deadline as number) < (parent.deadline as number));
    await sooner.done;
    assert.ok(isDeadlineExceeded(sooner.err));
    assert.equal(parent.err, undefined);
    await later.done;
    assert.ok(isDeadlineExceeded(later.err), 'the later child expires with its parent');
    cancelLater();
  });

  test('TestLayersTimeout: nested timeouts expire in order, each with its own error', async () => {
    const [a] = withTimeout(background(), 60);
    const [b] = withTimeout(a, 20);
    const [c] = withCancel(b);
    await b.done;
    assert.ok(isDeadlineExceeded(b.err) && isDeadlineExceeded(c.err));
    assert.equal(a.err, undefined);
    await a.done;
    assert.ok(isDeadlineExceeded(a.err));
  });

  test('ctx.deadline of withTimeout is Date.now() + ms, and a child reports exactly its parent number', () => {
    for (let i = 0; i < 200; i++) {
      const t0 = Date.now();
      const [p, cancel] = withTimeout(background(), 1_000 + i);
      const [child] = withCancel(p);
      const [valued] = withCancel(withValue(p, createKey('k'), 1));
      const [sooner] = withTimeout(p, 999 + i);
      // Read the child first: it must still agree with the parent read afterwards.
      const cd = child.deadline as number;
      assert.equal(Number.isInteger(cd), true);
      assert.equal(cd, p.deadline);
      assert.equal(valued.deadline, p.deadline);
      assert.ok((sooner.deadline as number) <= cd, 'never later than the parent, rounding included');
      const t1 = Date.now();
      assert.ok(cd >= t0 + 1_000 + i && cd <= t1 + 1_000 + i, `${cd} not in [${t0}, ${t1}] + ${1_000 + i}`);
      cancel();
    }
  });

  test('Infinity means no deadline', () => {
    const [ctx, cancel] = withTimeout(background(), Number.POSITIVE_INFINITY);
    assert.equal(ctx.deadline, undefined);
    assert.equal(remaining(ctx), Number.POSITIVE_INFINITY);
    cancel();
  });

  test('remaining counts down and stops at 0', async () => {
    const [ctx, cancel] = withTimeout(background(), 1_000);
    const r = remaining(ctx);
    assert.ok(r > 900 && r <= 1_000, `remaining ${r}`);
    assert.equal(remaining(background()), Number.POSITIVE_INFINITY);
    cancel();
  });

  test('many deadlines share one Node timer, in deadline order', async () => {
    let timeoutsCreated = 0;
    const hook = createHook({
      init(_id, type) {
        if (type === 'Timeout') timeoutsCreated++;
      },
    }).enable();
    const [root, cancelRoot] = withCancel(background());
    const fired: number[] = [];
    const order = [50, 10, 40, 20, 30];
    const contexts = order.map((ms) => {
      const [ctx] = withTimeout(root, ms);
      void ctx.done.then(() => fired.push(ms));
      return ctx;
    });
    for (let i = 0; i < 10_000; i++) withTimeout(root, 60_000 + i);
    hook.disable();
    assert.ok(timeoutsCreated <= 2, `created ${timeoutsCreated} Node timers for 10,005 deadlines`);
    await Promise.all(contexts.map((c) => c.done));
    assert.deepEqual(fired, [10, 20, 30, 40, 50]);
    assert.equal(childCount(root), 10_000);
    cancelRoot();
    assert.equal(childCount(root), 0);
    assert.equal(deadlineTimerStats().deadlines, 0);
  });
});

describe('bad input', () => {
  for (const [name, fn] of [
    ['withTimeout NaN', () => withTimeout(background(), Number.NaN)],
    ['withTimeout negative', () => withTimeout(background(), -5)],
    ['withTimeout string', () => withTimeout(background(), '100' as unknown as number)],
    ['withDeadline invalid Date', () => withDeadline(background(), new Date('nope'))],
    ['withDeadline NaN', () => withDeadline(background(), Number.NaN)],
    ['withDeadline string', () => withDeadline(background(), '2030-01-01' as unknown as number)],
    ['withTimeout non-context', () => withTimeout({} as never, 10)],
  ] as const) {
    test(`${name} throws TypeError LEASH_ERR_INVALID_ARG`, () => {
      assert.throws(fn, (e: unknown) => {
        assert.ok(e instanceof TypeError);
        assert.equal((e as { code?: string }).code, 'LEASH_ERR_INVALID_ARG');
        assert.match(e.message, /must be|invalid/);
        return true;
      });
    });
  }
});
