import { CancelCtx, cancelFuncOf } from './cancel-tree.js';
import type { CancelCauseFunc, CancelFunc, Context } from './context.js';
import { CANCELED_KIND } from './errors.js';
import { assertContext } from './internal.js';

/**
 * withCancel returns a child of `parent` and a function that cancels it. The child is done when
 * `cancel` is called or when `parent` is done, whichever happens first; its `err` is then a
 * CanceledError (or the parent's err, the very same object). Call `cancel` as soon as the work is
 * over: until then the child stays linked in its parent (that is what leaks if it is skipped).
 * `cancel` is idempotent and `Disposable`; safe to call from any callback.
 *
 * @example
 * const [ctx, cancel] = withCancel(parent);
 * try {
 *   await work(ctx);
 * } finally {
 *   cancel();
 * }
 */
export function withCancel(parent: Context): [Context, CancelFunc] {
  assertContext(parent, 'withCancel(parent)');
  const c = new CancelCtx(parent, 'WithCancel');
  return [c, cancelFuncOf(c)];
}

/**
 * withCancelCause is {@link withCancel} whose cancel function records why: after `cancel(cause)`,
 * `ctx.err` is a CanceledError and `cause(ctx)` is `cause` (or `ctx.err` when `cause` is
 * `undefined`). Only the first call has any effect.
 *
 * @example
 * const [ctx, cancel] = withCancelCause(parent);
 * cancel(new Error('upstream closed'));
 * cause(ctx); // Error: upstream closed
 */
export function withCancelCause(parent: Context): [Context, CancelCauseFunc] {
  assertContext(parent, 'withCancelCause(parent)');
  const c = new CancelCtx(parent, 'WithCancelCause');
  const cancel = ((why?: unknown) => c._cancelSelf(CANCELED_KIND, why)) as CancelCauseFunc;
  cancel[Symbol.dispose] = cancel;
  return [c, cancel];
}
