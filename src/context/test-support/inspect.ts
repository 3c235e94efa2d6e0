// Test-only views into the cancel tree. Not part of the package (excluded from the build).
import { CancelCtx } from '../cancel-tree.js';
import type { Context } from '../context.js';
import { deadlineTimerStats } from '../deadline-timers.js';

/** childCount is the number of links (children, afterFuncs, waiters) a cancel context holds. */
export function childCount(ctx: Context): number {
  if (!(ctx instanceof CancelCtx)) throw new TypeError('childCount needs a leash cancel context');
  let n = 0;
  for (let l = ctx._head; l !== null; l = l._next) n++;
  return n;
}

export { deadlineTimerStats };
