import type { Context } from '../context/index.js';
import {
  assertFunction,
  assertNumber,
  assertOneOf,
  assertOptions,
  describe,
  invalidArg,
} from '../context/internal.js';
import { CountWindow } from './breaker/count-window.js';
import { TimeWindow } from './breaker/time-window.js';
import { FAILURE, SLOW, type SlidingWindow, type WindowJSON } from './breaker/window.js';
import {
  BrokenCircuitError,
  type CallbackRule,
  callChecked,
  isBoolean,
  policyName,
  stackless,
} from './errors.js';
import { type BreakerState, channels, publish } from './events.js';
import {
  CHAINS,
  type Chain,
  EXIT,
  execute,
  handOff,
  type InnerPolicy,
  observe,
  proceed,
  RUN,
  withdraw,
} from './policy.js';
import { callerCancelled, endedByPolicyTimeout } from './timeout.js';
import { inside, ONCE, OutcomeWatch, SETTLES, WITH_FN } from './work.js';

// Added to a call's epoch when its chain answer is observed while the timeout inside the breaker
// reports the work's own outcome too (epochs count state changes: they never get near it).
const DEFERRED = 2 ** 40;

/** CircuitBreakerOptions configure circuitBreaker(). Defaults are resilience4j's. */
export interface CircuitBreakerOptions {
  /** failureRate opens the breaker when failed calls / calls >= it. A fraction in (0, 1]. Default: 0.5. */
  readonly failureRate?: number;
  /** slowCallRate opens the breaker when slow calls / calls >= it. A fraction in (0, 1]. Default: 1. */
  readonly slowCallRate?: number;
  /**
   * slowCallMs: a call that takes >= this many milliseconds is slow. Default: Infinity (off:
   * resilience4j's default is 60000, but timing every call costs two clock reads, which on some
   * machines is most of a closed breaker's cost, so leash times calls only when asked).
   */
  readonly slowCallMs?: number;
  /**
   * window is what the rates are measured over: the last `calls` calls, or the calls of the last
   * `ms` milliseconds in `buckets` buckets (default 10). Default: { calls: 100 }.
   */
  readonly window?: { readonly calls: number } | { readonly ms: number; readonly buckets?: number };
  /** minimumCalls is how many calls the window needs before a rate is judged (capped at a count window's size). Default: 100. */
  readonly minimumCalls?: number;
  /** halfOpenCalls is how many probes half-open lets through before deciding. Default: 10. */
  readonly halfOpenCalls?: number;
  /** openMs is how long the breaker stays open before it lets probes through. Default: 60000. */
  readonly openMs?: number;
  /**
   * isFailure classifies an error: true counts it as a failure, false as a success. The caller's
   * own cancellation is never passed to it (it is ignored). One that throws or returns anything
   * but a boolean is a bug: the call counts as a failure and its caller gets LEASH_ERR_INVALID_ARG
   * (see circuitBreaker). Default: every error is a failure.
   */
  readonly isFailure?: (err: unknown) => boolean;
  /**
   * initialState is a breaker's toJSON(), to carry its state across a restart. It must come from
   * a breaker with the same window ({ calls } of the same size, or { ms, buckets } alike).
   */
  readonly initialState?: CircuitBreakerJSON;
  /** name labels events and messages: a non-empty string. Default: 'circuitBreaker'. */
  readonly name?: string;
}

/** CircuitBreakerJSON is a breaker's state for hydration: what toJSON() returns. */
export interface CircuitBreakerJSON {
  readonly state: BreakerState;
  /** openUntil is when an open breaker lets probes through, in epoch ms (Date.now()). */
  readonly openUntil?: number;
  readonly window: WindowJSON;
}

/** CircuitBreakerMetrics is a snapshot of the window a breaker judges by. */
export interface CircuitBreakerMetrics {
  readonly state: BreakerState;
  readonly calls: number;
  readonly failedCalls: number;
  readonly slowCalls: number;
  /** failureRate and slowCallRate are NaN until the window has minimumCalls calls. */
  readonly failureRate: number;
  readonly slowCallRate: number;
}

const KNOWN = [
  'failureRate',
  'slowCallRate',
  'slowCallMs',
  'window',
  'minimumCalls',
  'halfOpenCalls',
  'openMs',
  'isFailure',
  'initialState',
  'name',
];

const STATES = ['closed', 'open', 'half-open', 'forced-open', 'disabled'] as const;

/**
 * circuitBreaker returns a breaker that follows resilience4j's state machine. Closed, it lets
 * calls through and measures them in a sliding window (count or time, O(1) per call); once the
 * window holds `minimumCalls` calls and the failure rate or the slow-call rate reaches its
 * threshold, it opens. Open, it rejects every call at once with BrokenCircuitError (one error
 * instance per opening: the open path allocates nothing else) for `openMs`, then goes half-open and
 * lets `halfOpenCalls` probes through: if their rates stay under the thresholds it closes, else it
 * opens again. forceOpen() and disable() pin it open or let everything through unmeasured; reset()
 * closes it with an empty window.
 *
 * The caller's own cancellation (its context ended, cancel or deadline) is never a failure, so
 * impatient callers cannot open a breaker; a timeout policy's own deadline is a failure, wherever
 * the timeout sits in a wrap(). A call that settles after its caller left is recorded by its own
 * outcome. An outcome from an earlier state (a call let through while closed that ends after the
 * breaker opened) is not recorded. State changes are published on
 * `leash:resilience:breaker:state-change`, rejections on `leash:resilience:breaker:rejected`.
 *
 * An `isFailure` that throws or returns anything but a boolean is a bug in the caller's code, not
 * a verdict on the dependency: the call is recorded as a failure (the safe side: a broken
 * predicate cannot keep a failing dependency's breaker closed), and the caller's promise rejects
 * with a TypeError (LEASH_ERR_INVALID_ARG) naming isFailure, whose `cause` is the call's own error
 * and whose `thrown` is what isFailure threw. The error is not the predicate's own, annotated,
 * because that value may be shared, frozen or not an object. When the caller has already left
 * (the outcome is that of abandoned work), it is emitted as a process warning instead. A breaker
 * with isFailure answers through one more promise reaction per call.
 *
 * Options are checked when it is made (LEASH_ERR_INVALID_ARG), `initialState` included: it must
 * be a toJSON() of a breaker with the same window.
 *
 * @example
 * const breaker = circuitBreaker({ failureRate: 0.5, window: { calls: 20 }, minimumCalls: 10, openMs: 5_000 });
 * const user = await breaker.execute(ctx, (ctx) => fetchUser(ctx, id));
 */
export function circuitBreaker(options?: CircuitBreakerOptions): CircuitBreaker {
  const where = 'circuitBreaker(options)';
  const o = assertOptions(options, where, KNOWN);
  const failureRate = o.failureRate ?? 0.5;
  assertNumber(failureRate, where, 'failureRate', { min: Number.MIN_VALUE, max: 1, unit: 'a fraction' });
  const slowCallRate = o.slowCallRate ?? 1;
  assertNumber(slowCallRate, where, 'slowCallRate', { min: Number.MIN_VALUE, max: 1, unit: 'a fraction' });
  const slowCallMs = o.slowCallMs ?? Number.POSITIVE_INFINITY;
  assertNumber(slowCallMs, where, 'slowCallMs', { min: 0, infinite: true, unit: 'milliseconds' });
  const minimumCalls = o.minimumCalls ?? 100;
  assertNumber(minimumCalls, where, 'minimumCalls', { min: 1, integer: true });
  const halfOpenCalls = o.halfOpenCalls ?? 10;
  assertNumber(halfOpenCalls, where, 'halfOpenCalls', { min: 1, integer: true });
  const openMs = o.openMs ?? 60_000;
  assertNumber(openMs, where, 'openMs', { min: 0, unit: 'milliseconds' });
  if (o.isFailure !== undefined) assertFunction(o.isFailure, where, 'isFailure');
  const w = o.window ?? { calls: 100 };
  const wo = assertOptions(w as { calls?: number; ms?: number; buckets?: number }, `${where} window`, [
    'calls',
    'ms',
    'buckets',
  ]);
  let window: SlidingWindow;
  if (wo.calls !== undefined) {
    if (wo.ms !== undefined || wo.buckets !== undefined) {
      throw invalidArg(`${where}: window takes { calls } or { ms, buckets? }, not both`);
    }
    assertNumber(wo.calls, where, 'window.calls', { min: 1, integer: true });
    window = new CountWindow(wo.calls);
  } else if (wo.ms !== undefined) {
    assertNumber(wo.ms, where, 'window.ms', { min: Number.MIN_VALUE, unit: 'milliseconds' });
    const buckets = wo.buckets ?? 10;
    assertNumber(buckets, where, 'window.buckets', { min: 1, max: 1000, integer: true });
    window = new TimeWindow(wo.ms, buckets);
  } else {
    throw invalidArg(`${where}: window must be { calls: n } or { ms: n }, got ${describe(w)} without either`);
  }
  if (o.initialState !== undefined) checkInitialState(o.initialState, where, wo);
  return new CircuitBreaker({
    failureRate,
    slowCallRate,
    slowCallMs,
    minimumCalls: Math.min(minimumCalls, window.capacity),
    halfOpenCalls,
    openMs,
    isFailure: o.isFailure,
    name: policyName(o.name, where, 'circuitBreaker'),
    window,
    initialState: o.initialState,
  });
}

const WINDOW_JSON = {
  count: ['kind', 'size', 'outcomes'],
  time: ['kind', 'ms', 'buckets', 'counts'],
} as const;

// initialState must be what toJSON() returns for a breaker with the same window: a saved window of
// another kind or size cannot be loaded without dropping or inventing outcomes, so it is refused.
function checkInitialState(
  init: unknown,
  where: string,
  w: { calls?: number; ms?: number; buckets?: number },
): void {
  const again =
    'pass a toJSON() of a breaker with the same window, or leave initialState out to start closed';
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(init)) {
    throw invalidArg(
      `${where}: initialState must be a breaker's toJSON() ({ state, openUntil?, window }), got ${describe(init)}; ${again}`,
    );
  }
  assertOptions(init, `${where}: initialState`, ['state', 'openUntil', 'window']);
  assertOneOf(init.state, where, 'initialState.state', STATES);
  if (init.state === 'open') {
    assertNumber(
      init.openUntil,
      where,
      'initialState.openUntil (epoch ms, as toJSON() gives for an open breaker)',
    );
  } else if (init.openUntil !== undefined) {
    throw invalidArg(
      `${where}: initialState.openUntil belongs to an open breaker's state, got it with state ${JSON.stringify(init.state)}; ${again}`,
    );
  }
  const sw = init.window;
  if (!isObject(sw) || (sw.kind !== 'count' && sw.kind !== 'time')) {
    throw invalidArg(
      `${where}: initialState.window must be a window's toJSON() ({ kind: 'count', ... } or { kind: 'time', ... }), got ${sw === undefined ? 'undefined' : isObject(sw) ? `kind ${describe(sw.kind)}` : describe(sw)}; ${again}`,
    );
  }
  assertOptions(sw, `${where}: initialState.window`, WINDOW_JSON[sw.kind]);
  const mine =
    w.calls !== undefined ? `{ calls: ${w.calls} }` : `{ ms: ${w.ms}, buckets: ${w.buckets ?? 10} }`;
  if (sw.kind === 'count') {
    if (w.calls === undefined || sw.size !== w.calls) {
      throw invalidArg(
        `${where}: initialState.window was saved from a count window of ${describe(sw.size)} calls, but this breaker's window is ${mine}; ${again}`,
      );
    }
    const outcomes = sw.outcomes;
    if (
      !Array.isArray(outcomes) ||
      outcomes.length > w.calls ||
      !outcomes.every((x) => Number.isInteger(x) && x >= 0 && x <= 3)
    ) {
      throw invalidArg(
        `${where}: initialState.window.outcomes must be an array of at most ${w.calls} outcomes (integers from 0 to 3), got ${describe(outcomes)}; ${again}`,
      );
    }
    return;
  }
  if (w.ms === undefined || sw.ms !== w.ms || sw.buckets !== (w.buckets ?? 10)) {
    throw invalidArg(
      `${where}: initialState.window was saved from a time window of { ms: ${describe(sw.ms)}, buckets: ${describe(sw.buckets)} }, but this breaker's window is ${mine}; ${again}`,
    );
  }
  const counts = sw.counts;
  const bucket = (b: unknown): boolean =>
    Array.isArray(b) &&
    b.length === 3 &&
    b.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffff_ffff) &&
    b[1] <= b[0] &&
    b[2] <= b[0];
  if (!Array.isArray(counts) || counts.length > (w.buckets ?? 10) || !counts.every(bucket)) {
    throw invalidArg(
      `${where}: initialState.window.counts must be an array of at most ${w.buckets ?? 10} buckets [calls, failures, slowCalls] (integers, failures and slowCalls <= calls), got ${describe(counts)}; ${again}`,
    );
  }
}

const IS_FAILURE: CallbackRule = {
  call: 'isFailure(err)',
  valid: isBoolean,
  expected: 'true or false',
  fix: "the call was counted as a failure. Fix isFailure so that it returns true or false without throwing; the call's own error is this error's cause",
};

interface Config {
  failureRate: number;
  slowCallRate: number;
  slowCallMs: number;
  minimumCalls: number;
  halfOpenCalls: number;
  openMs: number;
  isFailure: ((err: unknown) => boolean) | undefined;
  name: string;
  window: SlidingWindow;
  initialState: CircuitBreakerJSON | undefined;
}

/** CircuitBreaker is the policy made by circuitBreaker(): a Policy with a state you can read and force. */
export class CircuitBreaker implements InnerPolicy {
  readonly #c: Config;
  readonly #window: SlidingWindow;
  #state: BreakerState = 'closed';
  // Bumped on every state change: an outcome is recorded only in the state its call started in.
  #epoch = 0;
  #openUntil = 0;
  #openError: BrokenCircuitError | null = null;
  readonly #halfOpenFullError: BrokenCircuitError;
  readonly #forcedError: BrokenCircuitError;
  // Half-open: probes still allowed, and the probes' outcomes.
  #probesLeft = 0;
  #probeCalls = 0;
  #probeFailures = 0;
  #probeSlow = 0;
  // Whether calls are timed (slow-call detection on), and whether the window needs the clock.
  readonly #timed: boolean;
  readonly #timeWindow: boolean;
  // Set while a call's answer is being classified for its caller (isFailure given): an error of
  // isFailure's is then handed to that caller (#replacement) rather than emitted as a warning.
  #answering = false;
  #replacement: Error | undefined = undefined;

  constructor(c: Config) {
    this.#c = c;
    this.#window = c.window;
    this.#timed = Number.isFinite(c.slowCallMs);
    this.#timeWindow = c.window instanceof TimeWindow;
    this.#newEpoch();
    this.#halfOpenFullError = stackless(() => new BrokenCircuitError('half-open', 0, c.name));
    this.#forcedError = stackless(
      () => new BrokenCircuitError('forced-open', Number.POSITIVE_INFINITY, c.name),
    );
    const init = c.initialState;
    if (init !== undefined) {
      const now = performance.now();
      this.#window.load(init.window, now);
      if (init.state === 'open') {
        const left = Math.max(0, (init.openUntil ?? 0) - Date.now());
        this.#open(now, left, false);
      } else if (init.state === 'half-open') this.#open(now, 0, false);
      else this.#state = init.state;
    }
  }

  /** state is the breaker's state now ('open' turns 'half-open' on the first call after openMs). */
  get state(): BreakerState {
    return this.#state;
  }

  /** metrics reads the window the breaker judges by (the closed state's, or the probes' when half-open). */
  get metrics(): CircuitBreakerMetrics {
    const w = this.#window;
    w.advance(performance.now());
    const half = this.#state === 'half-open';
    const calls = half ? this.#probeCalls : w.calls;
    const failed = half ? this.#probeFailures : w.failures;
    const slow = half ? this.#probeSlow : w.slowCalls;
    const enough = calls >= (half ? this.#c.halfOpenCalls : this.#c.minimumCalls);
    return {
      state: this.#state,
      calls,
      failedCalls: failed,
      slowCalls: slow,
      failureRate: enough ? failed / calls : Number.NaN,
      slowCallRate: enough ? slow / calls : Number.NaN,
    };
  }

  execute<T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T> {
    return execute(this, ctx, fn, 'circuitBreaker(options).execute(ctx, fn)');
  }

  /** @internal Its RUN proceeds along a wrap()'s chain. */
  readonly [CHAINS] = true;
  /** @internal Its RUN settles once the work it started has. */
  readonly [SETTLES] = true;
  /** @internal Its RUN calls the rest of the chain at once or not at all. */
  readonly [ONCE] = true;

  [RUN]<T>(ctx: Context, fn: (ctx: Context) => Promise<T>, chain?: Chain, i = 0): Promise<T> {
    switch (this.#state) {
      case 'closed':
        break;
      case 'disabled':
        return proceed(ctx, fn, chain, i);
      case 'forced-open':
        return this.#reject(this.#forcedError);
      case 'open':
        if (performance.now() < this.#openUntil) return this.#reject(this.#openError as BrokenCircuitError);
        this.#toHalfOpen();
        this.#probesLeft--;
        break;
      case 'half-open':
        if (this.#probesLeft === 0) return this.#reject(this.#halfOpenFullError);
        this.#probesLeft--;
        break;
    }
    const epoch = this.#epoch;
    const started = this.#timed ? performance.now() : 0;
    if (this.#c.isFailure !== undefined) return this.#classified(ctx, fn, chain, i, epoch, started);
    const at = inside(chain, i);
    if (at === WITH_FN) {
      const work = proceed(ctx, fn, chain, i);
      // Told by the race that waits on the same promise when there is one: nothing allocated.
      observe(ctx, work, this, epoch, started);
      return work;
    }
    // The rest of the chain may answer before fn settles: when it answers only because the
    // caller left, the outcome is that of the work itself, once it settles. With a timeout
    // ahead and nothing inside it that outlives it, its race tells (nothing allocated).
    if (at >= 0 && handOff(ctx, chain as Chain, at, this, -epoch - 1, started)) {
      let work: Promise<T>;
      let reached: boolean;
      try {
        work = proceed(ctx, fn, chain, i);
      } finally {
        reached = !withdraw(this);
      }
      // Once the timeout was reached, the work inside it reports its own outcome when it settles:
      // a chain answer that only says the caller left defers to that report (see EXIT).
      observe(ctx, work, this, reached ? epoch + DEFERRED : epoch, started);
      return work;
    }
    const w = new OutcomeWatch(this, ctx, fn, epoch, started);
    const work = proceed(ctx, w.fn, chain, i);
    w.watch(work);
    return work;
  }

  /** @internal The call started in `epoch` at `started` has settled. */
  [EXIT](epoch: number, started: number, ctx: Context, ok: boolean, outcome: unknown): void {
    if (epoch < 0) {
      // Told by the timeout inside it (handOff) that the work inside settled, under the timeout's
      // context: an outcome only when the caller left first (the chain's answer was then the
      // caller's decision, not recorded); otherwise the chain's answer was.
      if (ctx.err === undefined || endedByPolicyTimeout(ctx)) return;
      epoch = -epoch - 1;
    }
    let deferred = false;
    if (epoch >= DEFERRED) {
      epoch -= DEFERRED;
      deferred = true;
    }
    if (ok) this.#settled(epoch, started, 0);
    // The caller's own cancellation is the caller's decision: not an outcome of the call. Work
    // that fails on its own after its caller left still counts. When the work inside a timeout
    // still runs (deferred), nothing is settled yet: a half-open probe keeps its slot until the
    // work's own outcome arrives through the timeout's hand-off, and that outcome is recorded.
    else if (callerCancelled(ctx, outcome)) {
      if (!deferred) this.#settled(epoch, started, -1);
    } else this.#settled(epoch, started, this.#classify(outcome));
  }

  // With isFailure: the call runs beneath a tracker of its calls of fn (whatever the chain), and
  // the chain's answer is classified in a reaction of the breaker's own, so that an isFailure that
  // fails reaches the caller, who gets the chain's answer otherwise.
  #classified<T>(
    ctx: Context,
    fn: (ctx: Context) => Promise<T>,
    chain: Chain | undefined,
    i: number,
    epoch: number,
    started: number,
  ): Promise<T> {
    const w = new OutcomeWatch(this, ctx, fn, epoch, started);
    return proceed(ctx, w.fn, chain, i).then(
      (v) => {
        w.chainSettled(true, v);
        return v;
      },
      (e: unknown) => {
        // A context that has ended means its race has answered the caller already: an error of
        // isFailure's would reach nobody, and is emitted as a warning instead.
        this.#answering = ctx.err === undefined;
        try {
          w.chainSettled(false, e);
        } finally {
          this.#answering = false;
        }
        const r = this.#replacement;
        if (r === undefined) throw e;
        this.#replacement = undefined;
        throw r;
      },
    );
  }

  // FAILURE or 0 for an error the caller did not cause. An isFailure that throws or returns no
  // boolean counts a failure; its error goes to the caller being answered, else to a warning.
  #classify(outcome: unknown): number {
    const isFailure = this.#c.isFailure;
    if (isFailure === undefined) return FAILURE;
    try {
      return callChecked(this.#c.name, IS_FAILURE, outcome, isFailure, undefined, outcome) ? FAILURE : 0;
    } catch (e) {
      if (this.#answering) this.#replacement = e as Error;
      else process.emitWarning(e as Error);
      return FAILURE;
    }
  }

  /** forceOpen pins the breaker open: every call is rejected until reset() (resilience4j's FORCED_OPEN). */
  forceOpen(): void {
    this.#transition('forced-open', Number.NaN, Number.NaN);
  }

  /** disable lets every call through and records nothing until reset() (resilience4j's DISABLED). */
  disable(): void {
    this.#transition('disabled', Number.NaN, Number.NaN);
  }

  /** reset closes the breaker with an empty window, from any state. */
  reset(): void {
    this.#window.reset();
    this.#transition('closed', Number.NaN, Number.NaN);
  }

  /** toJSON returns the state to hydrate another breaker with (options.initialState), e.g. after a restart. */
  toJSON(): CircuitBreakerJSON {
    const now = performance.now();
    const window = this.#window.toJSON(now);
    if (this.#state === 'open') {
      return { state: 'open', openUntil: Date.now() + Math.max(0, this.#openUntil - now), window };
    }
    return { state: this.#state, window };
  }

  #reject<T>(e: BrokenCircuitError): Promise<T> {
    if (channels.breakerRejected.hasSubscribers) {
      publish(channels.breakerRejected, () => ({ name: this.#c.name, state: this.#state }));
    }
    return Promise.reject(e);
  }

  // outcome: -1 ignored, else FAILURE bits (SLOW is added here).
  #settled(epoch: number, started: number, outcome: number): void {
    if (epoch !== this.#epoch) return;
    const state = this.#state;
    if (outcome < 0) {
      // An ignored probe gives its permit back, so another caller can probe.
      if (state === 'half-open') this.#probesLeft++;
      return;
    }
    const c = this.#c;
    const now = this.#timed || this.#timeWindow ? performance.now() : 0;
    const flags = outcome | (this.#timed && now - started >= c.slowCallMs ? SLOW : 0);
    if (state === 'closed') {
      const w = this.#window;
      w.record(now, flags);
      if (w.calls < c.minimumCalls) return;
      const fr = w.failures / w.calls;
      const sr = w.slowCalls / w.calls;
      if (fr >= c.failureRate || sr >= c.slowCallRate) this.#open(performance.now(), c.openMs, true, fr, sr);
    } else if (state === 'half-open') {
      this.#probeCalls++;
      if (flags & FAILURE) this.#probeFailures++;
      if (flags & SLOW) this.#probeSlow++;
      if (this.#probeCalls < c.halfOpenCalls) return;
      const fr = this.#probeFailures / this.#probeCalls;
      const sr = this.#probeSlow / this.#probeCalls;
      if (fr >= c.failureRate || sr >= c.slowCallRate) this.#open(performance.now(), c.openMs, true, fr, sr);
      else {
        this.#window.reset();
        this.#transition('closed', fr, sr);
      }
    }
  }

  #open(now: number, ms: number, announce: boolean, fr = Number.NaN, sr = Number.NaN): void {
    this.#openUntil = now + ms;
    // One error per opening, shared by every call it rejects.
    this.#openError = stackless(() => new BrokenCircuitError('open', ms, this.#c.name));
    if (announce) this.#transition('open', fr, sr);
    else {
      this.#state = 'open';
      this.#newEpoch();
    }
  }

  #newEpoch(): void {
    this.#epoch++;
  }

  #toHalfOpen(): void {
    this.#probesLeft = this.#c.halfOpenCalls;
    this.#probeCalls = this.#probeFailures = this.#probeSlow = 0;
    this.#transition('half-open', Number.NaN, Number.NaN);
  }

  #transition(to: BreakerState, failureRate: number, slowCallRate: number): void {
    const from = this.#state;
    this.#state = to;
    this.#newEpoch();
    if (to !== 'half-open') this.#probesLeft = 0;
    if (from !== to) {
      publish(channels.breakerStateChange, () => ({
        name: this.#c.name,
        from,
        to,
        failureRate,
        slowCallRate,
      }));
    }
  }
}
