import { CancelCtx, cancelFuncOf, propagateSignal, Watcher } from './cancel-tree.js';
import type { CancelFunc, Context } from './context.js';
import { assertContext, describe, invalidArg } from './internal.js';

// A real AbortSignal: `instanceof` alone is fooled by Object.create(AbortSignal.prototype) (whose
// `aborted` getter then throws) and throws itself on a revoked proxy.
function isAbortSignal(v: unknown): v is AbortSignal {
  try {
    if (!(v instanceof AbortSignal)) return false;
    return typeof v.aborted === 'boolean';
  } catch {
    return false;
  }
}

/**
 * fromSignal returns a child of `parent` that is also cancelled when a foreign `AbortSignal` aborts
 * (an incoming request's signal, a test runner's, `AbortSignal.timeout`). The child's `err` is a
 * DeadlineExceededError when the signal's reason is a TimeoutError, else a CanceledError, and
 * `cause(ctx)` is the signal's reason. leash adds one listener per signal however many contexts
 * watch it, and removes it when they are all done. Call `cancel` when the work is over: until then
 * the child stays linked in its parent and its listener stays on `signal`.
 */
export function fromSignal(parent: Context, signal: AbortSignal): [Context, CancelFunc] {
  assertContext(parent, 'fromSignal(parent, signal)');
  if (!isAbortSignal(signal)) {
    throw invalidArg(`fromSignal(parent, signal): signal must be an AbortSignal, got ${describe(signal)}`);
  }
  const c = new CancelCtx(parent, 'FromSignal');
  if (c._outcome === null) {
    const w = new Watcher((o) => c._cancel(o));
    propagateSignal(w, signal);
    if (c._outcome === null) c._detach = () => w.stop();
  }
  return [c, cancelFuncOf(c)];
}
