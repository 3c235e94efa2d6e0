// The core's internal surface for the other leash layers: the one home of argument checking and
// error construction, so every layer rejects bad input with the same code and the same wording.
// Not a public export (no subpath names it): layers import it as '../context/internal.js', users
// never see it, and it may change in any release.
//
// Conventions every message follows:
// - it starts with the public call, as the user wrote it (`Channel.send(ctx, value)`), never an
//   internal helper's name;
// - it says what was expected, what was given (describe()), and what to do instead.

import type { Context } from './context.js';

/** invalidArg builds the TypeError with the stable code LEASH_ERR_INVALID_ARG that every layer throws on bad input. */
export function invalidArg(message: string): TypeError & { code: 'LEASH_ERR_INVALID_ARG' } {
  const e = new TypeError(message) as TypeError & { code: 'LEASH_ERR_INVALID_ARG' };
  e.code = 'LEASH_ERR_INVALID_ARG';
  return e;
}

/**
 * describe names a bad value for an error message: its type and, for short primitives, its value,
 * so `"4"` reads as "the string "4"" and `undefined` as "undefined". Never throws, whatever `v` is
 * (null-prototype objects, revoked proxies, objects whose toString throws).
 */
export function describe(v: unknown): string {
  try {
    if (v === null) return 'null';
    if (v === undefined) return 'undefined';
    switch (typeof v) {
      case 'string':
        return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
      case 'number':
        return `the number ${Object.is(v, -0) ? '-0' : String(v)}`;
      case 'bigint':
        return `the bigint ${String(v)}n`;
      case 'boolean':
        return `the boolean ${String(v)}`;
      case 'symbol':
        return `a symbol (${String(v.description ?? '')})`;
      case 'function':
        return v.name ? `a function (${v.name})` : 'a function';
    }
    if (Array.isArray(v)) return `an array of length ${v.length}`;
    if (typeof AbortSignal !== 'undefined' && v instanceof AbortSignal) return 'an AbortSignal';
    const proto = Object.getPrototypeOf(v);
    if (proto === null) return 'an object with a null prototype';
    const name = proto?.constructor?.name;
    return name && name !== 'Object' ? `an object (${name})` : 'an object';
  } catch {
    return 'an object that cannot be inspected';
  }
}

/**
 * isContext reports whether `v` can serve as a Context: an object with `deadline`, `err`, `signal`,
 * `done` and a `value()` method. Structural, so a foreign implementation (another copy of leash, a
 * wrapper) passes. Never throws.
 */
export function isContext(v: unknown): v is Context {
  // Leash's own contexts (nearly every call) pass with one prototype-chain test; the structural
  // test below costs four property lookups that a hot path (a channel hand-off) pays per call.
  const leash = leashContextClass.ctor;
  if (leash !== undefined) {
    try {
      if (v instanceof leash) return true;
    } catch {
      // A proxy whose getPrototypeOf trap throws (or a revoked one): the shape decides.
    }
  }
  try {
    return (
      typeof v === 'object' &&
      v !== null &&
      typeof (v as Context).value === 'function' &&
      'err' in v &&
      'signal' in v &&
      'done' in v &&
      'deadline' in v
    );
  } catch {
    return false;
  }
}

/**
 * @internal
 * The base class of leash's own contexts, for isContext's fast path. base-context.ts fills it
 * when it loads: a slot rather than an import, because base-context.ts imports key.ts, which
 * imports this module, and an import cycle would let a module that loads key.ts first run
 * base-context.ts before ContextKey exists.
 */
export const leashContextClass: { ctor: (abstract new (...args: never[]) => object) | undefined } = {
  ctor: undefined,
};

/**
 * assertContext throws LEASH_ERR_INVALID_ARG unless `v` is a Context. `where` is the public call,
 * for example `'Channel.send(ctx, value)'`. An AbortSignal gets a pointer to fromSignal().
 */
export function assertContext(v: unknown, where: string): asserts v is Context {
  if (isContext(v)) return;
  if (isAbortSignalLike(v)) {
    throw invalidArg(
      `${where}: ctx must be a Context, got an AbortSignal; wrap it with fromSignal(parent, signal) from 'leashjs'`,
    );
  }
  throw invalidArg(
    `${where}: ctx must be a Context (from background(), withCancel() and friends, or an object with deadline, err, signal, done and value()), got ${describe(v)}`,
  );
}

// instanceof asks a proxy for its prototype, which throws when the proxy is revoked.
function isAbortSignalLike(v: unknown): boolean {
  try {
    return typeof AbortSignal !== 'undefined' && v instanceof AbortSignal;
  } catch {
    return false;
  }
}

/**
 * assertFunction throws LEASH_ERR_INVALID_ARG unless `v` is a function.
 * `name` is the parameter's name as the docs write it.
 */
export function assertFunction(
  v: unknown,
  where: string,
  name: string,
): asserts v is (...args: never[]) => unknown {
  if (typeof v !== 'function') throw invalidArg(`${where}: ${name} must be a function, got ${describe(v)}`);
}

/** NumberRule says which numbers a checked option or argument accepts. */
export interface NumberRule {
  /** Smallest accepted value (inclusive). Default: none. */
  readonly min?: number;
  /** Largest accepted value (inclusive). Default: none. */
  readonly max?: number;
  /** Only integers. Default: false. */
  readonly integer?: boolean;
  /** Accept Infinity. Default: false. */
  readonly infinite?: boolean;
  /** The unit, for the message ("milliseconds"). */
  readonly unit?: string;
}

/**
 * assertNumber throws LEASH_ERR_INVALID_ARG unless `v` is a number (a primitive: no strings, no
 * boxed numbers, no objects) within `rule`. Never coerces, so an object with a throwing
 * `valueOf` or a null prototype is rejected with a clear message rather than a raw TypeError.
 */
export function assertNumber(
  v: unknown,
  where: string,
  name: string,
  rule: NumberRule = {},
): asserts v is number {
  const { min, max, integer = false, infinite = false, unit } = rule;
  const ok =
    typeof v === 'number' &&
    !Number.isNaN(v) &&
    (infinite || Number.isFinite(v)) &&
    (!integer || Number.isInteger(v) || (infinite && v === Number.POSITIVE_INFINITY)) &&
    (min === undefined || v >= min) &&
    (max === undefined || v <= max);
  if (ok) return;
  const parts: string[] = [integer ? 'an integer' : infinite ? 'a number' : 'a finite number'];
  if (unit) parts.push(`of ${unit}`);
  if (min !== undefined && max !== undefined) parts.push(`from ${min} to ${max}`);
  // Number.MIN_VALUE is how callers say "positive"; printed, it would read ">= 5e-324".
  else if (min !== undefined) parts.push(min === Number.MIN_VALUE ? '> 0' : `>= ${min}`);
  else if (max !== undefined) parts.push(`<= ${max}`);
  if (infinite) parts.push('(Infinity allowed)');
  throw invalidArg(`${where}: ${name} must be ${parts.join(' ')}, got ${describe(v)}`);
}

/**
 * assertOptions checks an options argument: `undefined` is accepted (no options), anything that is
 * not a plain object is rejected (a number where `{ limit }` was meant, a string, null), and every
 * own key must be one of `known`; an unknown key is rejected with a "did you mean" suggestion, so a
 * typo such as `{ timeout: 100 }` for `{ timeoutMs: 100 }` fails loudly instead of meaning
 * "no deadline". Returns the options object, or an empty one for `undefined`.
 */
export function assertOptions<T extends object>(
  v: T | undefined,
  where: string,
  known: readonly string[],
): T {
  if (v === undefined) return {} as T;
  if (typeof v !== 'object' || v === null || isArraySafe(v)) {
    throw invalidArg(
      `${where}: options must be an object such as { ${known[0] ?? ''}: ... }, got ${describe(v)}`,
    );
  }
  let keys: (string | symbol)[];
  try {
    keys = Reflect.ownKeys(v);
  } catch (cause) {
    // A proxy whose ownKeys trap throws, or a revoked one.
    throw Object.assign(invalidArg(`${where}: options cannot be read (${describe(v)})`), { cause });
  }
  for (const key of keys) {
    if (typeof key === 'symbol') continue;
    if (known.includes(key)) continue;
    const guess = closest(key, known);
    throw invalidArg(
      `${where}: unknown option ${JSON.stringify(key)}${guess ? `; did you mean ${JSON.stringify(guess)}?` : ''} (known options: ${known.join(', ')})`,
    );
  }
  return v;
}

// Array.isArray throws on a revoked proxy; such a value is not an options object either.
function isArraySafe(v: object): boolean {
  try {
    return Array.isArray(v);
  } catch {
    return false;
  }
}

/**
 * assertOneOf throws LEASH_ERR_INVALID_ARG unless `v` is one of `allowed` (compared with ===),
 * naming the allowed values and, for a near-miss string, the closest.
 */
export function assertOneOf<T>(
  v: unknown,
  where: string,
  name: string,
  allowed: readonly T[],
): asserts v is T {
  if (allowed.includes(v as T)) return;
  const guess =
    typeof v === 'string'
      ? closest(
          v,
          allowed.filter((a): a is T & string => typeof a === 'string'),
        )
      : '';
  throw invalidArg(
    `${where}: ${name} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${describe(v)}${guess ? `; did you mean ${JSON.stringify(guess)}?` : ''}`,
  );
}

/** closest returns the entry of `names` nearest to `word` (edit distance at most a third of its length, or a case/affix match), or ''. */
export function closest(word: string, names: readonly string[]): string {
  const lower = word.toLowerCase();
  let best = '';
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const name of names) {
    const n = name.toLowerCase();
    if (n === lower || n.startsWith(lower) || lower.startsWith(n)) return name;
    const d = editDistance(lower, n);
    if (d < bestDistance) {
      bestDistance = d;
      best = name;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : '';
}

// editDistance is the optimal string alignment distance: insertions, deletions, substitutions and
// swaps of two neighbouring letters each count one (a swap is the commonest typo: rtae for rate).
function editDistance(a: string, b: string): number {
  if (a.length > 64 || b.length > 64) return Number.POSITIVE_INFINITY;
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, (before[j - 2] ?? 0) + 1);
      cur[j] = d;
    }
    before = prev;
    prev = cur;
  }
  return prev[b.length] ?? Number.POSITIVE_INFINITY;
}

/**
 * readOption reads `opts[key]` once, for options that passed assertOptions. A getter that throws
 * (or a proxy trap) becomes LEASH_ERR_INVALID_ARG with the thrown value as `cause`, so a caller
 * validates what it read, never what a second read might return.
 */
export function readOption<T extends object, K extends keyof T>(opts: T, key: K, where: string): T[K] {
  try {
    return opts[key];
  } catch (cause) {
    throw Object.assign(invalidArg(`${where}: option ${String(key)} cannot be read`), { cause });
  }
}

// The cancel tree's types, for the hot-path entries in `tree` below (types only: no import cycle).
export type { CancelCtx, Link, Outcome, Owner } from './cancel-tree.js';
// Holds: the one way any layer keeps the process alive while an operation blocks on a context
// that has a deadline (docs/architecture.md, core rules). Take hold() when the operation starts
// waiting on such a context and release() exactly once when it stops waiting; heldCount() is for
// tests. They live with the shared deadline timer because that timer is the handle they ref.
export { heldCount, hold, release } from './deadline-timers.js';
// A hot path's short-lived objects keep their compiled code across full GCs (keep-shape.ts).
export { keepShape } from './keep-shape.js';

// The cancel tree's own entries, for a layer that races a context once per call on a hot path
// (resilience's policies): a Link registered with tree.propagate() and removed with tree.unlink()
// costs no closure and no check, unlike afterFunc. Read cancel-tree.ts before using them. The
// functions are put here by cancel-tree.ts and with-deadline.ts as they load: importing them from
// here would close an import cycle (key.ts imports this file), and every context comes from those
// modules, so they are loaded before any call can reach them.
/** @internal See above. */
export const tree = {} as {
  /** Links `child` to be told (its _parentDone) when `parent` is done; at once if it is. */
  propagate(child: import('./cancel-tree.js').Link, parent: Context): void;
  /** Removes `node` from its owner's list; does nothing when it is not linked. */
  unlink(node: import('./cancel-tree.js').Link): void;
  /** Ends `c` as withCancelCause's cancel(cause) does (cause undefined: a plain cancel). */
  cancelCause(c: import('./cancel-tree.js').CancelCtx, cause: unknown): void;
  /** A child of `parent` as withCancelCause makes it, without the tuple and the cancel closure. */
  child(parent: Context): import('./cancel-tree.js').CancelCtx;
  /**
   * withTimeoutCause(parent, ms, cause) without the argument checks and without making a cancel
   * function, for a layer that derives one per call and checked its arguments once; end it with
   * tree.cancelCause(c, undefined).
   */
  timeoutChild(parent: Context, ms: number, cause: unknown): import('./cancel-tree.js').CancelCtx;
};

// Per-operation children for the layers' hot paths (a queue job): the context of withCancelCause
// without its [ctx, cancel] tuple and closure. The child is linked in `parent` until cancelChild()
// is called on it; call it exactly as withCancelCause's cancel would be.

/** newChild returns a cancelable child of `parent` (as withCancelCause), for cancelChild. */
export function newChild(parent: Context): Context {
  return tree.child(parent);
}

/** cancelChild cancels a context made by newChild with `cause` (undefined: a plain cancel); idempotent. */
export function cancelChild(child: Context, cause: unknown): void {
  tree.cancelCause(child as import('./cancel-tree.js').CancelCtx, cause);
}

// One way to run a Lua script on Redis for every layer that keeps state there.
export { evalScript, type LuaScript, luaScript, type ScriptClient } from './redis-script.js';

// Counters the hot paths keep for leashjs/metrics, and the outcome names of a request context.
export {
  type CacheTally,
  cacheTallies,
  cacheTally,
  markShed,
  REQUEST_OUTCOMES,
  type RequestTally,
  requestEndOutcome,
  requestOutcome,
  requestTally,
} from './tallies.js';
