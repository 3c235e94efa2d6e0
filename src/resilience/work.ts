// The user's work beneath a chain that may answer before it settles. A permit (a bulkhead's, an
// adaptive limit's) and a breaker's outcome belong to the user's fn, not to what the rest of a
// wrap() chain returns: a timeout answers its caller at its deadline while fn runs on, a retry
// starts another attempt beside an abandoned one, a hedge leaves its loser running. A policy whose
// rest of the chain may do that hands the chain a tracked fn made here instead of the user's.
import type { Context } from '../context/index.js';
import { type Chain, EXIT, type Exit, handOff, invoke, observe, proceed, RUN, withdraw } from './policy.js';
import { callerCancelled, TimeoutPolicy } from './timeout.js';

/**
 * @internal
 * SETTLES marks a built-in policy whose RUN settles only once every call of fn it made has
 * settled, as long as what it wraps does too (a bulkhead, a breaker, a retry, a rate limiter...).
 * A timeout (it answers at its deadline) and a hedge (its loser runs on) do not, nor does a
 * user-written policy, which could do anything.
 */
export const SETTLES: unique symbol = Symbol('leash.resilience.settles');

/**
 * @internal
 * ONCE marks a built-in policy whose RUN calls the rest of the chain at most once, synchronously,
 * or not at all (a breaker, an adaptive limit; a bulkhead without a queue says so per instance).
 */
export const ONCE: unique symbol = Symbol('leash.resilience.once');

/** @internal What inside() returns when the rest of the chain settles only once fn has. */
export const WITH_FN = -2;

/**
 * @internal
 * inside tells a policy what the rest of `chain` from `i` is: WITH_FN when it settles only once
 * every call of fn it makes has (watching its promise is enough); the index of a timeout when that
 * timeout is the only policy there that may answer before fn settles, the policies before it reach
 * it at once or not at all (ONCE) and those after it settle with fn (the work inside that timeout
 * is then all the work, and an observer handed to it is told when it settles); -1 otherwise.
 * One pass, no allocation.
 */
export function inside(chain: Chain | undefined, i: number): number {
  if (chain === undefined) return WITH_FN;
  let at = -1;
  let once = true;
  for (let k = i; k < chain.length; k++) {
    const p = chain[k] as { [SETTLES]?: boolean; [ONCE]?: boolean };
    if (p[SETTLES] === true) {
      if (at < 0 && once && p[ONCE] !== true) once = false;
      continue;
    }
    if (at >= 0 || !once || !(p instanceof TimeoutPolicy)) return -1;
    at = k;
  }
  return at < 0 ? WITH_FN : at;
}

// What an EXIT to a tracker is about: the chain's promise, or a call of fn.
const CHAIN = 0;
const FN = 1;

/**
 * @internal
 * The policy a PermitHold holds a permit of: told the permit is given back by EXIT (with the two
 * numbers it gave the hold, the context and the outcome of the call), asked by RUN for a permit of
 * its own for a further call of fn while the first is still running, and by `contended` whether a
 * caller waits for a permit.
 */
export interface PermitOwner extends Exit {
  [RUN]<T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T>;
  readonly contended: boolean;
}

// PermitHold._state bits.
const CHAIN_DONE = 1;
const FN_RUNNING = 2;
const RELEASED = 4;

/**
 * @internal
 * PermitHold lends the permit a call was admitted with to the calls of fn made beneath an opaque
 * chain: `fn` (the tracked one, to hand down the chain) runs the user's fn under the permit, and a
 * further call while one is still running (a retry after a timeout, a hedge) takes a permit of its
 * own through the owner's RUN, so that every running fn holds one. The permit is given back once
 * the chain has settled and its fn has too; or, when a caller waits for a permit, as soon as its
 * fn settles (the chain may be waiting for a permit for its next attempt).
 */
export class PermitHold<T> implements Exit {
  readonly fn: (ctx: Context) => Promise<T>;
  readonly #owner: PermitOwner;
  readonly #user: (ctx: Context) => Promise<T>;
  readonly #ctx: Context;
  readonly #a: number;
  readonly #b: number;
  #state = 0;
  #ok = true;
  #outcome: unknown;
  #known = false;

  constructor(owner: PermitOwner, ctx: Context, user: (ctx: Context) => Promise<T>, a: number, b: number) {
    this.#owner = owner;
    this.#ctx = ctx;
    this.#user = user;
    this.#a = a;
    this.#b = b;
    this.fn = (c) => this.#call(c);
  }

  #call(c: Context): Promise<T> {
    if ((this.#state & (FN_RUNNING | RELEASED)) !== 0) return this.#owner[RUN](c, this.#user);
    this.#state |= FN_RUNNING;
    const p = invoke(this.#user, c);
    observe(c, p, this, FN, 0);
    return p;
  }

  /** @internal The chain (CHAIN) or the fn holding the permit (FN) has settled. */
  [EXIT](which: number, _b: number, _ctx: Context, ok: boolean, outcome: unknown): void {
    const state = this.#state;
    if ((state & RELEASED) !== 0) return;
    if (which === CHAIN) {
      this.#state = state | CHAIN_DONE;
      // The caller's own cancellation says nothing of the work: its own outcome, if it outlives it.
      if (ok || (state & FN_RUNNING) === 0 || !callerCancelled(this.#ctx, outcome)) {
        this.#known = true;
        this.#ok = ok;
        this.#outcome = outcome;
        if ((state & FN_RUNNING) === 0) this.#release();
      }
      return;
    }
    this.#state = state & ~FN_RUNNING;
    if ((state & CHAIN_DONE) !== 0 || this.#owner.contended) {
      if (!this.#known) {
        this.#ok = ok;
        this.#outcome = outcome;
      }
      this.#release();
    }
  }

  #release(): void {
    this.#state |= RELEASED;
    this.#owner[EXIT](this.#a, this.#b, this.#ctx, this.#ok, this.#outcome);
  }

  /** @internal Starts watching the chain's promise `work`; call from RUN, before it returns. */
  watch(work: Promise<unknown>): void {
    observe(this.#ctx, work, this, CHAIN, 0);
  }
}

/**
 * @internal
 * OutcomeWatch tells a breaker the outcome of a call made beneath an opaque chain: the chain's, as
 * soon as it settles, unless that is only its caller's cancellation while the latest call of fn
 * still runs, in which case that fn's own outcome once it settles (a late success or failure of
 * abandoned work is an outcome of the dependency, as it is when nothing stands between them).
 */
export class OutcomeWatch<T> implements Exit {
  readonly fn: (ctx: Context) => Promise<T>;
  readonly #owner: Exit;
  readonly #user: (ctx: Context) => Promise<T>;
  readonly #ctx: Context;
  readonly #a: number;
  readonly #b: number;
  // Calls of fn started, the latest one's number while it runs (0 when it has settled), and
  // whether the outcome is awaited from it.
  #calls = 0;
  #running = 0;
  #waiting = false;
  #done = false;

  constructor(owner: Exit, ctx: Context, user: (ctx: Context) => Promise<T>, a: number, b: number) {
    this.#owner = owner;
    this.#ctx = ctx;
    this.#user = user;
    this.#a = a;
    this.#b = b;
    this.fn = (c) => this.#call(c);
  }

  #call(c: Context): Promise<T> {
    const n = ++this.#calls;
    this.#running = n;
    const p = invoke(this.#user, c);
    observe(c, p, this, FN, n);
    return p;
  }

  /** @internal The chain (CHAIN) or the n-th call of fn (FN, n) has settled. */
  [EXIT](which: number, n: number, _ctx: Context, ok: boolean, outcome: unknown): void {
    if (this.#done) return;
    if (which === CHAIN) {
      if (!ok && this.#running !== 0 && callerCancelled(this.#ctx, outcome)) {
        this.#waiting = true;
        return;
      }
    } else {
      if (n !== this.#running) return;
      this.#running = 0;
      if (!this.#waiting) return;
    }
    this.#done = true;
    this.#owner[EXIT](this.#a, this.#b, this.#ctx, ok, outcome);
  }

  /** @internal Starts watching the chain's promise `work`; call from RUN, before it returns. */
  watch(work: Promise<unknown>): void {
    observe(this.#ctx, work, this, CHAIN, 0);
  }

  /** @internal The chain's promise has settled, told by a reaction of the owner's own (instead of watch). */
  chainSettled(ok: boolean, outcome: unknown): void {
    this[EXIT](CHAIN, 0, this.#ctx, ok, outcome);
  }
}

/**
 * @internal
 * holdPermit runs the rest of `chain` from `i` (or fn) for `owner`, which has just taken a permit,
 * and arranges for `owner[EXIT](a, b, ...)` once the user's work under the permit has settled, the
 * cheapest way the chain allows: told by the race already waiting on the work when the rest of the
 * chain settles with fn (nothing allocated); told by a timeout ahead through its hand-off, with -b
 * for b (a handed-off exit), when nothing inside that timeout outlives it (nothing allocated);
 * else through a PermitHold that follows every call of fn (a hedge, a retry around a timeout, a
 * user policy).
 */
export function holdPermit<T>(
  owner: PermitOwner,
  ctx: Context,
  fn: (ctx: Context) => Promise<T>,
  chain: Chain | undefined,
  i: number,
  a: number,
  b: number,
): Promise<T> {
  const at = inside(chain, i);
  if (at === WITH_FN) {
    const work = proceed(ctx, fn, chain, i);
    observe(ctx, work, owner, a, b);
    return work;
  }
  if (at >= 0 && handOff(ctx, chain as Chain, at, owner, a, -b)) {
    let reached: boolean;
    let work: Promise<T>;
    try {
      work = proceed(ctx, fn, chain, i);
    } finally {
      // Still handed off: the call never reached the timeout (a policy in between refused it).
      reached = !withdraw(owner);
    }
    if (!reached) observe(ctx, work, owner, a, b);
    return work;
  }
  const h = new PermitHold(owner, ctx, fn, a, b);
  const work = proceed(ctx, h.fn, chain, i);
  h.watch(work);
  return work;
}
