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
  assert.equal(ctx.err, err, 'ctx.err is one object, read after read');
});

// Issue 9: Koa wrote status = 500 onto the shared sentinel, and every later ctx.err in the process
// carried it. No framework may ever write onto a process-wide object.
test('writing onto one ctx.err leaves every other context err untouched', () => {
  const [a, cancelA] = withCancel(background());
  const [t] = withTimeout(background(), 0);
  cancelA();
  for (const err of [a.err, t.err] as (Error & Record<string, unknown>)[]) {
    err.status = 500;
    err.expose = true;
    err.message = 'poisoned';
  }
  const [b, cancelB] = withCancel(background());
  cancelB();
  const [u] = withTimeout(background(), 0);
  for (const err of [b.err, u.err] as (Error & Record<string, unknown>)[]) {
    assert.notEqual(err.status, 500);
    assert.equal(err.expose, undefined);
    assert.notEqual(err.message, 'poisoned');
    assert.equal(Object.hasOwn(err, 'status'), false);
  }
  assert.notEqual(b.err, a.err);
  assert.notEqual(u.err, t.err);
  assert.equal(b.err?.message, 'context canceled');
  assert.equal(u.err?.message, 'context deadline exceeded');
  // The classes' prototypes are untouched too.
  assert.equal((CanceledError.prototype as unknown as Record<string, unknown>).status, undefined);
});

test('ctx.err reads as a stack-less CanceledError / DeadlineExceededError', () => {
  const [c, cancel] = withCancel(background());
  cancel();
  const e = c.err as CanceledError;
  assert.ok(e instanceof CanceledError && e instanceof Error);
  assert.equal(e.name, 'AbortError');
  assert.equal(e.message, 'context canceled');
  assert.equal(e.code, 'LEASH_ERR_CANCELED');
  assert.equal(e.stack, 'AbortError: context canceled');
  assert.equal(String(e), 'AbortError: context canceled');
  assert.equal(e.constructor, CanceledError);
  e.stack = 'rewritten';
  assert.equal(e.stack, 'rewritten', 'stack is writable, as on a native error');
  const [t] = withTimeout(background(), 0);
  const d = t.err as DeadlineExceededError;
  assert.ok(d instanceof DeadlineExceededError && d instanceof Error);
  assert.equal(d.name, 'TimeoutError');
  assert.equal(d.timeout, true);
  assert.equal(d.code, 'LEASH_ERR_DEADLINE_EXCEEDED');
  assert.ok(isDeadlineExceeded(d) && !isCanceled(d));
});

test('a subtree cancelled together shares one err (Go: the child takes the parent err); siblings cancelled apart do not', () => {
  const [parent, cancel] = withCancel(background());
  const [child] = withCancel(parent);
  const [grandchild] = withTimeout(child, 60_000);
  const [own, cancelOwn] = withCancel(parent);
  cancelOwn();
  cancel();
  assert.equal(child.err, parent.err);
  assert.equal(grandchild.err, parent.err);
  assert.notEqual(own.err, parent.err, 'cancelled first, it keeps its own');
  assert.equal(grandchild.signal.reason, parent.err);
});

test('constructors reject a message or options that Error would choke on, with a code', () => {
  for (const bad of [
    Symbol('x'),
    {
      toString: () => {
        throw new Error('no');
      },
    },
    Object.create(null),
  ]) {
    assert.throws(() => new CanceledError(bad as never), { code: 'LEASH_ERR_INVALID_ARG' });
    assert.throws(() => new DeadlineExceededError(bad as never), { code: 'LEASH_ERR_INVALID_ARG' });
  }
  assert.throws(() => new CanceledError('m', 4 as never), { code: 'LEASH_ERR_INVALID_ARG' });
  const why = new Error('why');
  assert.equal(new CanceledError('m', { cause: why }).cause, why);
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  assert.equal(isCanceled(revoked.proxy), false);
  const throwing = {
    get cause(): unknown {
      throw new Error('getter');
    },
  };
  assert.equal(isDeadlineExceeded(throwing), false);
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
