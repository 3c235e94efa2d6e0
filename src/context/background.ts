import { NeverDoneContext } from './base-context.js';
import type { Context } from './context.js';

/** @internal The root contexts: never done, no deadline, no values. */
class EmptyCtx extends NeverDoneContext {
  readonly #name: string;
  constructor(name: string) {
    super(null, null, undefined, null);
    this.#name = name;
  }
  _describe(): string {
    return this.#name;
  }
}

const backgroundCtx = Object.freeze(new EmptyCtx('context.Background'));
const todoCtx = Object.freeze(new EmptyCtx('context.TODO'));

/**
 * background returns the root context: never done, no deadline, no values. It is one shared
 * instance. Use it in `main`, at process start, in tests, and as the root of servers' contexts;
 * anywhere else, take the caller's context instead.
 */
export function background(): Context {
  return backgroundCtx;
}

/**
 * todo returns a context like {@link background} that marks a call site where the right context is
 * not decided yet (a function not yet changed to take one). It is a distinct shared instance so
 * that tools can find such sites.
 */
export function todo(): Context {
  return todoCtx;
}
