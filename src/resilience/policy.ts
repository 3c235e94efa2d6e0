// The Policy contract and the one way every built-in policy runs a call, so that wrap() composes
// them without a race per layer.
import type { Context } from '../context/index.js';
import {
  assertContext,
  assertFunction,
  type CancelCtx,
  describe,
  hold,
  invalidArg,
  type Link,
  type Outcome,
  type Owner,
  release,
  tree,
} from '../context/internal.js';

/**
 * Policy is what every resilience policy implements. `execute` runs `fn` under the policy and
 * hands it a context derived from `ctx` (or `ctx` itself when the policy adds no deadline). A
 * caller whose `ctx` ends gets `ctx.err` at once, whatever `fn` does; the work may keep running
 * under its cancelled context, and any permit it holds is kept until it settles. A cancellation by
 * the caller is never counted as a failure of the dependency. A Policy you write must return a
 * promise (a thenable is adopted): in a wrap(), one that returns anything else, or throws, makes
 * the call reject (a returned non-promise with LEASH_ERR_INVALID_ARG naming its position).
 */
export interface Policy {
  execute<T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T>;
}

/**
 * @internal
 * RUN is the inner entry of a built-in policy: the policy's logic without the race against the
 * caller's context. wrap() chains RUNs and races once at the outside; a single policy's execute
 * races once too. A user-written Policy has no RUN and is called through execute.
 */
export const RUN: unique symbol = Symbol('leash.resilience.run');

/**
 * @internal
 * RACES marks a built-in policy whose RUN already settles with ctx.err as soon as the caller's
 * context ends, whatever fn does (a timeout races its derived context, whose end follows the
 * caller's). execute and wrap skip their own race for it: one race per call, not two.
 */
export const RACES: unique symbol = Symbol('leash.resilience.races');

/**
 * @internal
 * CHAINS marks a built-in policy whose RUN takes the rest of a wrap() chain: it calls
 * `proceed(ctx, fn, chain, i)` where another calls `fn(ctx)`, so that wrap() makes no closure per
 * layer per call.
 */
export const CHAINS: unique symbol = Symbol('leash.resilience.chains');

/** @internal The policies of a wrap(), outermost first. */
export type Chain = readonly Policy[];

/** @internal A policy built by this layer. */
export interface InnerPolicy extends Policy {
  [RUN]<T>(ctx: Context, fn: (ctx: Context) => Promise<T>, chain?: Chain, i?: number): Promise<T>;
  readonly [RACES]?: boolean;
  readonly [CHAINS]?: boolean;
}

/** @internal Calls `fn(ctx)` and always returns a promise: a synchronous throw becomes a rejection. */
export function invoke<T>(fn: (ctx: Context) => Promise<T>, ctx: Context): Promise<T> {
  try {
    const r = fn(ctx);
    return r instanceof Promise ? r : Promise.resolve(r);
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * @internal
 * proceed is what a CHAINS policy calls instead of `fn(ctx)`: the rest of the chain from `i`
 * (`chain[i]` and the policies after it, then `fn`), or `fn` itself when there is no chain left.
 */
export function proceed<T>(
  ctx: Context,
  fn: (ctx: Context) => Promise<T>,
  chain: Chain | undefined,
  i: number,
): Promise<T> {
  if (chain === undefined || i >= chain.length) return invoke(fn, ctx);
  return runAt(chain, i, ctx, fn);
}

/**
 * @internal
 * runAt runs `chain[i]` (which must exist) around the rest of the chain and `fn`: through its RUN
 * with the chain when it CHAINS, else through its RUN or, for a user-written Policy, its execute,
 * with a closure that proceeds. A user-written execute that throws becomes a rejection; one that
 * returns no promise, a LEASH_ERR_INVALID_ARG rejection naming its position in the chain.
 */
export function runAt<T>(
  chain: Chain,
  i: number,
  ctx: Context,
  fn: (ctx: Context) => Promise<T>,
): Promise<T> {
  const p = chain[i] as Partial<InnerPolicy> & Policy;
  if (p[CHAINS] === true) return (p as InnerPolicy)[RUN](ctx, fn, chain, i + 1);
  const inner = i === chain.length - 1 ? fn : (c: Context) => runAt(chain, i + 1, c, fn);
  const run = p[RUN];
  if (run !== undefined) return run.call(p, ctx, inner) as Promise<T>;
  return userExecute(ctx, p, inner, `wrap(...policies): the policy at position ${i} (0 is the outermost)`);
}

/**
 * @internal
 * userExecute calls a user-written `policy.execute(ctx, fn)` and always returns a native promise:
 * a throw becomes a rejection, a thenable is adopted, and any other value is a LEASH_ERR_INVALID_ARG
 * rejection naming the policy (`which`) and what its execute must return.
 */
export function userExecute<T>(
  ctx: Context,
  policy: Policy,
  fn: (ctx: Context) => Promise<T>,
  which: string,
): Promise<T> {
  let r: unknown;
  try {
    r = policy.execute(ctx, fn);
    if (r instanceof Promise) return r;
    // A thenable is adopted, as await would.
    if (typeof (r as PromiseLike<T> | null)?.then === 'function') return Promise.resolve(r as PromiseLike<T>);
  } catch (e) {
    return Promise.reject(e);
  }
  return Promise.reject(
    invalidArg(
      `${which} returned ${describe(r)} from execute(ctx, fn); a Policy's execute must return a promise: make it async, or return the promise of the fn it is given`,
    ),
  );
}

/**
 * @internal
 * execute is the public entry shared by every built-in policy: it checks the arguments, answers a
 * caller whose context is already done with ctx.err, and otherwise races the policy's RUN against
 * the caller's context (the race unregisters as soon as either side settles).
 */
export function execute<T>(
  policy: InnerPolicy,
  ctx: Context,
  fn: (ctx: Context) => Promise<T>,
  where: string,
): Promise<T> {
  if (typeof (ctx as Context | undefined)?.value !== 'function') assertContext(ctx, where);
  if (typeof fn !== 'function') assertFunction(fn, where, 'fn');
  const err = ctx.err;
  if (err !== undefined) return Promise.reject(err);
  if (policy[RACES] === true) return policy[RUN](ctx, fn);
  return raced(policy, ctx, null, fn, undefined, 0);
}

/**
 * @internal
 * EXIT is the method by which a policy that watches its work settle (a breaker's outcome, a
 * bulkhead's permit) is told it did, with the two numbers it gave observe().
 */
export const EXIT: unique symbol = Symbol('leash.resilience.exit');

/** @internal What observe() tells. */
export interface Exit {
  [EXIT](a: number, b: number, ctx: Context, ok: boolean, outcome: unknown): void;
}

// The race whose RUN is running now, synchronously (null otherwise): a policy that observes the
// very promise that race waits on rides on the race's own reaction instead of adding one.
let current: Race | null = null;

/**
 * @internal
 * observe arranges for `x[EXIT](a, b, ctx, ok, outcome)` to be called once `p` settles, even when
 * the caller has long gone. When `p` turns out to be the promise the current race waits on (a
 * breaker or a bulkhead in execute or in a wrap() with no promise-transforming layer in between),
 * the race's own reaction calls it, before it answers the caller, as a reaction of its own would
 * have: no closure, promise or microtask per call. Otherwise it is an ordinary reaction on `p`.
 * It must be called synchronously from RUN, before RUN returns.
 */
export function observe(ctx: Context, p: Promise<unknown>, x: Exit, a: number, b: number): void {
  const r = current;
  if (r !== null && r._ctx === ctx) {
    if (r._x1 === null) {
      r._x1 = x;
      r._a1 = a;
      r._b1 = b;
      r._p1 = p;
      return;
    }
    if (r._x2 === null) {
      r._x2 = x;
      r._a2 = a;
      r._b2 = b;
      r._p2 = p;
      return;
    }
  }
  react(ctx, p, x, a, b);
}

function react(ctx: Context, p: Promise<unknown>, x: Exit, a: number, b: number): void {
  p.then(
    (v) => x[EXIT](a, b, ctx, true, v),
    (e: unknown) => x[EXIT](a, b, ctx, false, e),
  );
}

// An EXIT that throws (a user's isFailure, say) does so in a reaction of its own in the general
// case, an unhandled rejection: the same here, without keeping the race from answering.
function exit(x: Exit, a: number, b: number, ctx: Context, ok: boolean, outcome: unknown): void {
  try {
    x[EXIT](a, b, ctx, ok, outcome);
  } catch (e) {
    Promise.reject(e);
  }
}

// Observers handed to the timeout ahead in a wrap() chain (see handOff): the chain, the timeout's
// index in it, the context it is called with, and up to two observers. Set and taken or
// withdrawn within one synchronous run of the chain.
let hoChain: Chain | null = null;
let hoAt = -1;
let hoCtx: Context | null = null;
let hoX1: Exit | null = null;
let hoA1 = 0;
let hoB1 = 0;
let hoX2: Exit | null = null;
let hoA2 = 0;
let hoB2 = 0;
// Taken by the timeout, for the race raced() is about to make.
let adX1: Exit | null = null;
let adA1 = 0;
let adB1 = 0;
let adX2: Exit | null = null;
let adA2 = 0;
let adB2 = 0;

/**
 * @internal
 * handOff asks the timeout at `chain[at]`, about to be called with `ctx`, to tell `x[EXIT](a, b,
 * its derived context, ok, outcome)` once the work inside it settles (what it wraps, then fn),
 * riding on its race: nothing allocated per call. For a policy whose rest of the chain reaches that
 * timeout at once or not at all, with only policies inside it that settle with fn: then the work
 * inside it is all the work. It returns false when it cannot (two observers are already handed
 * to it); the caller must then call withdraw once the chain has returned.
 */
export function handOff(ctx: Context, chain: Chain, at: number, x: Exit, a: number, b: number): boolean {
  if (hoChain === null) {
    hoChain = chain;
    hoAt = at;
    hoCtx = ctx;
  } else if (hoChain !== chain || hoAt !== at || hoCtx !== ctx || hoX2 !== null) return false;
  if (hoX1 === null) {
    hoX1 = x;
    hoA1 = a;
    hoB1 = b;
  } else {
    hoX2 = x;
    hoA2 = a;
    hoB2 = b;
  }
  return true;
}

/**
 * @internal
 * withdraw takes back `x`'s hand-off once the chain has returned, and reports whether it was still
 * there: the timeout was not reached (a policy in between refused the call), so no fn runs.
 */
export function withdraw(x: Exit): boolean {
  let found = false;
  if (hoX2 === x) {
    hoX2 = null;
    found = true;
  } else if (hoX1 === x) {
    hoX1 = hoX2;
    hoA1 = hoA2;
    hoB1 = hoB2;
    hoX2 = null;
    found = true;
  }
  if (hoX1 === null) {
    hoChain = null;
    hoCtx = null;
  }
  return found;
}

/**
 * @internal
 * takeHandOff is called by the timeout at `chain[at]`, run with `ctx`, before raced(): the
 * observers handed to it go to its race.
 */
export function takeHandOff(ctx: Context, chain: Chain | undefined, at: number): void {
  if (hoChain !== chain || hoAt !== at || hoCtx !== ctx) return;
  adX1 = hoX1;
  adA1 = hoA1;
  adB1 = hoB1;
  adX2 = hoX2;
  adA2 = hoA2;
  adB2 = hoB2;
  hoX1 = hoX2 = null;
  hoChain = null;
  hoCtx = null;
}

// The resolving functions of the promise being made: `new Promise(capture)` hands them over
// without a closure per call (the executor runs synchronously, so nothing can interleave).
let capturedResolve: (v: unknown) => void = () => {};
let capturedReject: (e: unknown) => void = () => {};
function capture(resolve: (v: unknown) => void, reject: (e: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

// Race._state bits.
const SETTLED = 1;
const HELD = 2;

// Races whose work has settled, for reuse: a race is most of what a call allocates (with its two
// reaction handlers, made once per race rather than once per call). Bounded, so that a burst of
// concurrent calls does not pin memory afterwards.
const pool: Race[] = [];
const POOL_MAX = 64;
const promiseThen = Promise.prototype.then;
function noop(): void {}
// What a pooled race refers to instead of the context of its last call, so that it keeps no
// context (and the values in it) alive.
const NO_CONTEXT = null as unknown as Context;

/**
 * @internal
 * Race is one race of work against a context: a link in the context's cancel tree (registered and
 * removed in O(1), with no closure, unlike afterFunc), the resolving functions of the promise the
 * caller awaits, and up to two observers of the work (see observe). Whichever side comes first
 * settles that promise; the other finds it settled. The observers are told when the work settles,
 * whichever side came first; after that nothing refers to the race, and it is reused.
 */
class Race implements Link {
  _prev: Link | null = null;
  _next: Link | null = null;
  _owner: Owner | null = null;
  _state = 0;
  _ctx: Context;
  _resolve: (v: unknown) => void;
  _reject: (e: unknown) => void;
  // Set for a timeout's race: `_ctx` is then the timeout's derived context, which the race ends
  // (as its cancel function would) once the work settles, and this is told when the race rejects
  // (the timeout's event).
  _onReject: ((child: CancelCtx, e: unknown) => void) | null;
  _x1: Exit | null = null;
  _a1 = 0;
  _b1 = 0;
  _p1: Promise<unknown> | null = null;
  _x2: Exit | null = null;
  _a2 = 0;
  _b2 = 0;
  _p2: Promise<unknown> | null = null;
  // The reactions to the work, made once per race. The work is a native promise (invoke makes
  // sure), and its then is Promise.prototype.then's, so each is called at most once per use.
  readonly _onFulfilled = (v: unknown): void => this._fulfilled(v);
  readonly _onRejected = (e: unknown): void => this._rejected(e);

  // Call right after `new Promise(capture)`, whose resolving functions it takes.
  constructor(ctx: Context, onReject: ((child: CancelCtx, e: unknown) => void) | null) {
    this._ctx = ctx;
    this._resolve = capturedResolve;
    this._reject = capturedReject;
    this._onReject = onReject;
  }

  // Watches `work`, and answers the caller by whichever of it and the context ends first.
  _start(work: Promise<unknown>): void {
    // An observer of some other promise than the work gets a reaction of its own.
    if (this._x1 !== null && this._p1 !== work) {
      react(this._ctx, this._p1 as Promise<unknown>, this._x1, this._a1, this._b1);
      this._x1 = null;
    }
    if (this._x2 !== null && this._p2 !== work) {
      react(this._ctx, this._p2 as Promise<unknown>, this._x2, this._a2, this._b2);
      this._x2 = null;
    }
    this._p1 = this._p2 = null;
    if (this._ctx.deadline !== undefined) {
      this._state = HELD;
      hold();
    }
    tree.propagate(this, this._ctx);
    promiseThen.call(work, this._onFulfilled, this._onRejected);
  }

  // The context ended first: the caller gets its err now; the work runs on, still observed.
  _parentDone(o: Outcome): void {
    const state = this._state;
    if ((state & SETTLED) !== 0) return;
    this._state = SETTLED;
    if ((state & HELD) !== 0) release();
    const e = o._errNow();
    this._reject(e);
    if (this._onReject !== null) this._onReject(this._ctx as CancelCtx, e);
  }

  _fulfilled(v: unknown): void {
    if (this._x1 !== null) exit(this._x1, this._a1, this._b1, this._ctx, true, v);
    if (this._x2 !== null) exit(this._x2, this._a2, this._b2, this._ctx, true, v);
    if ((this._state & SETTLED) === 0) {
      this._end();
      this._resolve(v);
    }
    this._recycle();
  }

  _rejected(e: unknown): void {
    if (this._x1 !== null) exit(this._x1, this._a1, this._b1, this._ctx, false, e);
    if (this._x2 !== null) exit(this._x2, this._a2, this._b2, this._ctx, false, e);
    if ((this._state & SETTLED) === 0) {
      if (this._onReject !== null) this._onReject(this._ctx as CancelCtx, e);
      this._end();
      this._reject(e);
    }
    this._recycle();
  }

  _end(): void {
    const state = this._state;
    this._state = SETTLED;
    if (this._owner !== null) tree.unlink(this);
    if ((state & HELD) !== 0) release();
    if (this._onReject !== null) tree.cancelCause(this._ctx as CancelCtx, undefined);
  }

  // The work has settled and the caller is answered: unlinked, nothing refers to this race any
  // more. Drop what it held and keep it for another call.
  _recycle(): void {
    this._ctx = NO_CONTEXT;
    this._resolve = this._reject = noop;
    this._onReject = null;
    this._x1 = this._x2 = null;
    if (pool.length < POOL_MAX) pool.push(this);
  }
}

// A race for `ctx`, reused when one is free; call right after `new Promise(capture)`.
function newRace(ctx: Context, onReject: ((child: CancelCtx, e: unknown) => void) | null): Race {
  const r = pool.pop();
  if (r === undefined) return new Race(ctx, onReject);
  r._state = 0;
  r._ctx = ctx;
  r._resolve = capturedResolve;
  r._reject = capturedReject;
  r._onReject = onReject;
  return r;
}

/**
 * @internal
 * raced runs `policy`'s RUN (or, with no policy, the rest of `chain` from `i`) under `ctx` as the
 * current race, and returns the race's promise: it settles as the work does, or rejects with
 * ctx.err once `ctx` ends first. With `onReject`, `ctx` is a timeout's derived context, ended once
 * the work settles. While pending on a context with a deadline it keeps the process alive until
 * that deadline, as every leash wait does.
 */
export function raced<T>(
  policy: InnerPolicy | null,
  ctx: Context,
  onReject: ((child: CancelCtx, e: unknown) => void) | null,
  fn: (ctx: Context) => Promise<T>,
  chain: Chain | undefined,
  i: number,
): Promise<T> {
  const result = new Promise<T>(capture as (resolve: (v: T) => void, reject: (e: unknown) => void) => void);
  const r = newRace(ctx, onReject);
  // Observers handed to this timeout: told when the work inside it settles.
  const adopted = adX1 === null ? 0 : adX2 === null ? 1 : 2;
  if (adopted !== 0) {
    r._x1 = adX1;
    r._a1 = adA1;
    r._b1 = adB1;
    r._x2 = adX2;
    r._a2 = adA2;
    r._b2 = adB2;
    adX1 = adX2 = null;
  }
  const prev = current;
  current = r;
  let work: Promise<T>;
  try {
    work = policy === null ? proceed(ctx, fn, chain, i) : policy[RUN](ctx, fn);
  } finally {
    current = prev;
  }
  if (adopted !== 0) {
    r._p1 = work;
    if (adopted === 2) r._p2 = work;
  }
  r._start(work);
  return result;
}

/**
 * @internal
 * race settles as `work` does, or rejects with ctx.err once `ctx` ends first, unregistering from
 * `ctx` as soon as either happens: the core's abortable() without its diagnostics (a late
 * rejection of abandoned work is simply handled), a reused Race linked in the cancel tree and one
 * reaction per call. While pending on a context with a deadline it keeps the process alive until
 * that deadline, as every leash wait does.
 */
export function race<T>(ctx: Context, work: Promise<T>): Promise<T> {
  const result = new Promise<T>(capture as (resolve: (v: T) => void, reject: (e: unknown) => void) => void);
  newRace(ctx, null)._start(work);
  return result;
}

/** @internal Reports whether `p` is a Policy: an object with an execute method. */
export function isPolicy(p: unknown): p is Policy {
  return typeof p === 'object' && p !== null && typeof (p as Policy).execute === 'function';
}
