import { assertContext, LeashContext, neverDone, neverSignal } from './base-context.js';
import type { Context } from './context.js';

/** @internal Context made by withoutCancel: the parent's values, nothing else. */
class WithoutCancelCtx extends LeashContext {
  constructor(parent: Context) {
    super(parent, null, undefined, null);
  }
  get deadline(): undefined {
    return undefined;
  }
  get err(): undefined {
    return undefined;
  }
  get signal(): AbortSignal {
    return neverSignal();
  }
  get done(): Promise<void> {
    return neverDone();
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
