import { LeashContext, neverDone, neverSignal, sourceOf } from './base-context.js';
import type { Context, Key } from './context.js';
import { assertContext } from './internal.js';
import { assertKey, type ContextKey } from './key.js';

/** @internal The context made by withValue: one key, one value, everything else from the parent. */
class ValueCtx extends LeashContext {
  constructor(parent: Context, key: ContextKey<unknown>, val: unknown) {
    super(parent, key, val, sourceOf(parent));
  }
  get deadline(): number | undefined {
    return (this._parent as Context).deadline;
  }
  get err(): Error | undefined {
    const s = this._source;
    return s === null ? undefined : s.err;
  }
  get signal(): AbortSignal {
    const s = this._source;
    return s === null ? neverSignal() : s.signal;
  }
  get done(): Promise<void> {
    const s = this._source;
    return s === null ? neverDone() : s.done;
  }
  _describe(): string {
    return `WithValue(${(this._key as ContextKey<unknown>).name})`;
  }
}

/**
 * withValue returns a child of `parent` in which `ctx.value(key)` is `value`. It is cancelled with
 * its parent and has the parent's deadline. Use values for request-scoped data that crosses API
 * boundaries (request ids, auth, trace context), not to pass optional parameters. Lookups walk
 * the chain: keep chains short.
 */
export function withValue<T>(parent: Context, key: Key<T>, value: T): Context {
  assertContext(parent, 'withValue(parent, key, value)');
  assertKey(key, 'withValue(parent, key, value)');
  return new ValueCtx(parent, key, value);
}
