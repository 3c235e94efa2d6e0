import { NeverDoneContext } from './base-context.js';
import type { Context } from './context.js';
import { assertContext } from './internal.js';

/** @internal Context made by withoutCancel: the parent's values, nothing else. */
class WithoutCancelCtx extends NeverDoneContext {
  constructor(parent: Context) {
    super(parent, null, undefined, null);
  }
  _describe(): string {
    return 'WithoutCancel';
  }
}

/**
 * withoutCancel returns a child of `parent` that keeps its values but is never done: no deadline,
 * no err, no cause, even after the parent is cancelled. Use it for work that must finish after
 * the request that started it (an audit write), and give that work its own timeout.
 */
export function withoutCancel(parent: Context): Context {
  assertContext(parent, 'withoutCancel(parent)');
  return new WithoutCancelCtx(parent);
}
