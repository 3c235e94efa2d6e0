import { assertContext } from './base-context.js';
import { CancelCtx, cancelFuncOf, propagateSignal, Watcher } from './cancel-tree.js';
import type { CancelFunc, Context } from './context.js';
import { invalidArg } from './errors.js';
import { describe } from './key.js';

/**
 * fromSignal returns a child of `parent` that is also cancelled when a foreign `AbortSignal` aborts
 * (an incoming request's signal, a test runner's, `AbortSignal.timeout`). The child's `err` is a
 * DeadlineExceededError when the signal's reason is a TimeoutError, else a CanceledError, and
 * `cause(ctx)` is the signal's reason. leash adds one listener per signal however many contexts
 * watch it, and removes it when they are all done. Call `cancel` when the work is over.
 */
export function fromSignal(parent: Context, signal: AbortSignal): [Context, CancelFunc] {
  assertContext(parent, 'fromSignal(parent, signal)');
  if (!(signal instanceof AbortSignal)) {
    throw invalidArg(`fromSignal(parent, signal): signal must be an AbortSignal, got ${describe(signal)}`);
  }
  const c = new CancelCtx(parent, parent.deadline, 'FromSignal');
  if (c._err === undefined) {
    const w = new Watcher((err, why) => c._cancel(err, why));
    propagateSignal(w, signal);
    if (c._err === undefined) c._detach = () => w.stop();
  }
  return [c, cancelFuncOf(c)];
}
