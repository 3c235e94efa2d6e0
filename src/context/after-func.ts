import { propagate, Watcher } from './cancel-tree.js';
import type { Context } from './context.js';
import { assertContext, assertFunction } from './internal.js';

/**
 * afterFunc arranges for `fn` to run once, in a microtask of its own, after `ctx` is done (at once
 * if it already is). It returns `stop`, which unregisters `fn`: `stop()` returns true if that
 * call stopped `fn` from running, false if `fn` has already been started (or scheduled) or was
 * already stopped. Calling `stop` more than once is safe.
 *
 * Registration is O(1) and removed by `stop()` at once, so registering and stopping in a loop on a
 * long-lived context leaves nothing behind. An exception thrown by `fn` is not caught: it reaches
 * `process.on('uncaughtException')` like any error thrown in a microtask.
 *
 * A registered `fn` does not keep the process alive until a deadline, just as an `'abort'` listener
 * on `AbortSignal.timeout()` does not: to wait for the context in an otherwise idle process, await
 * `ctx.done` (which does hold the process until the deadline) or a leash operation such as `sleep`.
 *
 * @example
 * const stop = afterFunc(ctx, () => socket.destroy());
 * await useSocket(socket);
 * stop();
 */
export function afterFunc(ctx: Context, fn: () => void): () => boolean {
  assertContext(ctx, 'afterFunc(ctx, fn)');
  assertFunction(fn, 'afterFunc(ctx, fn)', 'fn');
  // 0: waiting; 1: started (scheduled to run); 2: stopped.
  let state = 0;
  const w = new Watcher(() => {
    if (state !== 0) return;
    state = 1;
    queueMicrotask(fn);
  });
  propagate(w, ctx);
  return () => {
    if (state !== 0) return false;
    state = 2;
    w.stop();
    return true;
  };
}
