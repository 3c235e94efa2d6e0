import type { Context, Key } from './context.js';
import { leashContextClass } from './internal.js';
import { assertKey, ContextKey } from './key.js';

/**
 * @internal
 * The node that decides when a context is done: a leash cancel node (withCancel, withDeadline,
 * fromSignal), a foreign Context that leash cannot look inside, or `null` for contexts that are
 * never done (background, todo, withoutCancel).
 */
export type Source = Context | null;

/**
 * @internal
 * SOURCE_KEY lets `cause()` see through a foreign context that wraps a leash context and delegates
 * `value()` to it, as Go's `Cause` does with its private cancelCtxKey.
 */
export const SOURCE_KEY: Key<Source> = new ContextKey<Source>('leash.source');

let neverController: AbortController | undefined;
let neverPromise: Promise<void> | undefined;

/** @internal The signal of a context that is never done; one shared instance. */
export function neverSignal(): AbortSignal {
  neverController ??= new AbortController();
  return neverController.signal;
}

/** @internal The done promise of a context that is never done; one shared instance. */
export function neverDone(): Promise<void> {
  neverPromise ??= new Promise<void>(() => {});
  return neverPromise;
}

/**
 * @internal
 * LeashContext is the base of leash's own contexts. Every subclass sets the same fields in the same
 * order so that lookups along a parent chain stay monomorphic enough to be fast (value() at depth
 * 10 is a tight loop, see bench/context.bench.ts).
 */
export abstract class LeashContext implements Context {
  // Declared, and assigned in the constructor, the style of the task layer's per-operation classes
  // (docs/architecture.md, core rules). For contexts it measured no gain: converting CancelCtx the
  // same way counted 821 against 827 instructions per withCancel + cancel (its construction is
  // inlined where it is hot), so CancelCtx was left as it is.
  declare _parent: Context | null;
  // The parent when it is a leash context, else null: value() walks this chain with a field load
  // per step instead of an instanceof check (measured: about 2x faster at depth 10 on Node 24).
  declare _leashParent: LeashContext | null;
  declare _key: ContextKey<unknown> | null;
  declare _val: unknown;
  declare _source: Source;
  // The task layer's registration of the operations blocked on this context (its CtxWatch), kept
  // here rather than in a WeakMap keyed by the context: that saved 32 of about 3,200 machine
  // instructions per channel hand-off at top level and 73 between tasks (bench/task-instructions.mjs).
  // Nothing else reads or writes it.
  declare _wait: unknown;

  constructor(parent: Context | null, key: ContextKey<unknown> | null, val: unknown, source: Source) {
    this._parent = parent;
    this._leashParent = parent instanceof LeashContext ? parent : null;
    this._key = key;
    this._val = val;
    this._source = source;
    this._wait = undefined;
  }

  abstract get deadline(): number | undefined;
  abstract get err(): Error | undefined;
  abstract get signal(): AbortSignal;
  abstract get done(): Promise<void>;

  value<T>(key: Key<T>): T | undefined {
    if (key === SOURCE_KEY) return this._source as T;
    assertKey(key, 'ctx.value(key)');
    // Walk the chain without recursion; hand over to a foreign parent's own value().
    let c: LeashContext = this;
    for (;;) {
      if (c._key === key) return c._val as T;
      const p = c._leashParent;
      if (p === null) {
        const foreign = c._parent;
        return foreign === null ? undefined : foreign.value(key);
      }
      c = p;
    }
  }

  /** Describes the chain like Go's String(): `context.Background.WithCancel.WithValue(user, ...)`. */
  toString(): string {
    return `${this._parent === null ? '' : `${String(this._parent)}.`}${this._describe()}`;
  }

  abstract _describe(): string;
}

leashContextClass.ctor = LeashContext;

/**
 * @internal
 * NeverDoneContext is the base of the contexts that can never be done (background, todo,
 * withoutCancel): no deadline, no err, the shared never-aborting signal and never-settling done.
 */
export abstract class NeverDoneContext extends LeashContext {
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
}

/** @internal The source of any context: for a foreign one, the context itself. */
export function sourceOf(ctx: Context): Source {
  return ctx instanceof LeashContext ? ctx._source : ctx;
}
