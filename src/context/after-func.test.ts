// Ports of Go's AfterFunc tests (x_test.go, afterfunc_test.go).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { afterFunc, background, type Context, withCancel, withoutCancel, withTimeout } from './index.js';
import { childCount } from './test-support/inspect.js';

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

test('TestAfterFuncCalledAfterCancel: runs once, asynchronously, after cancel', async () => {
  const [ctx, cancel] = withCancel(background());
  let calls = 0;
  let errWhenRun: Error | undefined;
  const stop = afterFunc(ctx, () => {
    calls++;
    errWhenRun = ctx.err;
  });
  cancel();
  assert.equal(calls, 0, 'not run synchronously inside cancel()');
  assert.equal(stop(), false, 'once cancel() has happened, stop cannot stop it');
  await tick();
  assert.equal(calls, 1);
  assert.ok(errWhenRun);
  cancel();
  await tick();
  assert.equal(calls, 1, 'runs only once');
});

test('TestAfterFuncCalledAfterTimeout', async () => {
  const [ctx, cancel] = withTimeout(background(), 10);
  const ran = new Promise<Error | undefined>((resolve) => afterFunc(ctx, () => resolve(ctx.err)));
  // afterFunc is a registration, like a listener: it does not keep the process alive by itself.
  // Awaiting ctx.done does (until the deadline).
  await ctx.done;
  assert.equal((await ran)?.name, 'TimeoutError');
  cancel();
});

test('TestAfterFuncCalledImmediately: on a done context it runs soon, not synchronously', async () => {
  const [ctx, cancel] = withCancel(background());
  cancel();
  let ran = false;
  const stop = afterFunc(ctx, () => {
    ran = true;
  });
  assert.equal(ran, false);
  assert.equal(stop(), false);
  await tick();
  assert.equal(ran, true);
});

test('TestAfterFuncNotCalledAfterStop: stop before cancel returns true once and unregisters', async () => {
  const [ctx, cancel] = withCancel(background());
  let ran = false;
  const stop = afterFunc(ctx, () => {
    ran = true;
  });
  assert.equal(childCount(ctx), 1);
  assert.equal(stop(), true);
  assert.equal(childCount(ctx), 0, 'unregistered at once');
  assert.equal(stop(), false, 'a second stop reports it was already stopped');
  cancel();
  await tick();
  assert.equal(ran, false);
});

test('several afterFuncs on one context all run; stopped ones do not', async () => {
  const [ctx, cancel] = withCancel(background());
  const ran: number[] = [];
  const stops = [0, 1, 2, 3, 4].map((i) => afterFunc(ctx, () => ran.push(i)));
  assert.equal(stops[2]?.(), true);
  cancel();
  await tick();
  assert.deepEqual(
    ran.sort((a, b) => a - b),
    [0, 1, 3, 4],
  );
});

test('on a context that is never done, stop returns true once', () => {
  for (const ctx of [background(), withoutCancel(withCancel(background())[0])] as Context[]) {
    const stop = afterFunc(ctx, () => assert.fail('must not run'));
    assert.equal(stop(), true);
    assert.equal(stop(), false);
  }
});

test('a function that throws reaches uncaughtException, it is not swallowed', async () => {
  const [ctx, cancel] = withCancel(background());
  const boom = new Error('boom');
  const seen = new Promise<unknown>((resolve) => {
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.once('uncaughtException', (e) => {
      for (const l of listeners) process.on('uncaughtException', l);
      resolve(e);
    });
  });
  afterFunc(ctx, () => {
    throw boom;
  });
  cancel();
  assert.equal(await seen, boom);
});

test('bad input: non-function and non-context', () => {
  assert.throws(() => afterFunc(background(), 'x' as never), { code: 'LEASH_ERR_INVALID_ARG' });
  assert.throws(() => afterFunc(null as never, () => {}), { code: 'LEASH_ERR_INVALID_ARG' });
});
