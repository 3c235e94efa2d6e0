import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  background,
  CanceledError,
  DeadlineExceededError,
  isCanceled,
  isDeadlineExceeded,
  withCancel,
  withTimeout,
} from './index.js';

test('error names, messages and codes follow Go and the AbortSignal ecosystem', () => {
  const c = new CanceledError();
  assert.equal(c.name, 'AbortError');
  assert.equal(c.message, 'context canceled');
  assert.equal(c.code, 'LEASH_ERR_CANCELED');
  const d = new DeadlineExceededError();
  assert.equal(d.name, 'TimeoutError');
  assert.equal(d.message, 'context deadline exceeded');
  assert.equal(d.code, 'LEASH_ERR_DEADLINE_EXCEEDED');
  assert.equal(d.timeout, true);
  assert.ok(c instanceof Error && d instanceof Error);
});

test('isCanceled and isDeadlineExceeded look through .cause chains and tell the two apart', () => {
  const [ctx, cancel] = withCancel(background());
  cancel();
  const wrapped = new Error('lookup failed', { cause: new Error('query failed', { cause: ctx.err }) });
  assert.equal(isCanceled(wrapped), true);
  assert.equal(isDeadlineExceeded(wrapped), false);
  const [expired] = withTimeout(background(), 0);
  assert.equal(isDeadlineExceeded(new Error('x', { cause: expired.err })), true);
  assert.equal(isCanceled(expired.err), false);
  for (const v of [undefined, null, 'AbortError', new Error('plain'), { name: 'AbortError' }]) {
    assert.equal(isCanceled(v), false);
    assert.equal(isDeadlineExceeded(v), false);
  }
  // A cause cycle does not hang.
  const a = new Error('a') as Error & { cause?: unknown };
  const b = new Error('b', { cause: a });
  a.cause = b;
  assert.equal(isCanceled(a), false);
});

test('errors from another copy of leash are recognised by brand', () => {
  const foreign = Object.assign(new Error('context canceled'), {
    [Symbol.for('leash.CanceledError')]: true,
  });
  assert.equal(isCanceled(foreign), true);
});

test('ctx.err can be decorated by frameworks (Koa writes status and expose on what it catches)', () => {
  const [ctx, cancel] = withCancel(background());
  cancel();
  const err = ctx.err as Error & { status?: number; expose?: boolean };
  assert.doesNotThrow(() => {
    err.status = 499;
    err.expose = false;
  });
  assert.ok(isCanceled(err));
  // The instance is shared by every cancelled context: leave it as we found it.
  delete err.status;
  delete err.expose;
});

test('isContext accepts leash contexts and any object with the Context shape, nothing else', async () => {
  const { isContext, todo } = await import('./index.js');
  assert.equal(isContext(background()), true);
  assert.equal(isContext(todo()), true);
  assert.equal(isContext(withCancel(background())[0]), true);
  const foreign = {
    deadline: undefined,
    err: undefined,
    signal: new AbortController().signal,
    done: new Promise(() => {}),
    value: () => undefined,
  };
  assert.equal(isContext(foreign), true);
  const { done: _omitted, ...withoutDone } = foreign;
  for (const v of [undefined, null, {}, 'ctx', 42, () => {}, { value: () => 1 }, withoutDone]) {
    assert.equal(isContext(v), false, `isContext(${String(v)})`);
  }
});
