import { causeOf } from './cancel-tree.js';
import type { Context } from './context.js';
import { assertContext } from './internal.js';

/**
 * cause returns why `ctx` is done: `undefined` while it is live; the cause given to a
 * withCancelCause cancel function, withDeadlineCause or withTimeoutCause when there is one;
 * otherwise `ctx.err`. A context cancelled through its parent has the parent's cause. For a context
 * that can never be done (background, withoutCancel) it is always `undefined`. Without a custom
 * cause, `cause(ctx) === ctx.err`.
 */
export function cause(ctx: Context): unknown {
  assertContext(ctx, 'cause(ctx)');
  return causeOf(ctx);
}
