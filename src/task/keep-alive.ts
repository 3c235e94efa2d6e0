import { background, type Context, todo } from '../context/index.js';

// docs/architecture.md: a deadline nothing waits on does not keep the process alive, but a leash operation
// blocked on a context with a deadline does, until it completes or the deadline passes, exactly as
// a pending timer would. The hold itself has one home, the core's internal surface (it refs the
// shared deadline timer, so there is no second keep-alive handle and nothing is blamed on the
// user's line): these names are kept for the task layer's blocking operations.

/** hold keeps the process alive while a deadline is pending, until the matching release(). */
export { heldCount, hold, release } from '../context/internal.js';

const BACKGROUND = background();
const TODO = todo();

/**
 * canEnd is false for the contexts that can never end (background, todo), which need no callback
 * and no hold. Other contexts that never end (withoutCancel) pass; afterFunc on them registers
 * nothing, so the check only saves work.
 */
export function canEnd(ctx: Context): boolean {
  return ctx !== BACKGROUND && ctx !== TODO;
}
