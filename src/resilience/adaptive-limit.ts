import { performance as perf } from 'node:perf_hooks';
import { type Context, isDeadlineExceeded } from '../context/index.js';
import { assertNumber, assertOneOf, assertOptions, invalidArg } from '../context/internal.js';
import { ConcurrencyLimitError, policyName } from './errors.js';
import { channels, publish } from './events.js';
import { Aimd } from './limit/aimd.js';
import { clamp, type LimitAlgorithm, type LimitBounds } from './limit/algorithm.js';
import { Gradient2 } from './limit/gradient2.js';
import { Vegas } from './limit/vegas.js';
import { CHAINS, type Chain, EXIT, execute, type InnerPolicy, RUN } from './policy.js';
import { callerCancelled, endedByPolicyTimeout } from './timeout.js';
import { holdPermit, ONCE, type PermitOwner, SETTLES } from './work.js';

/** AdaptiveLimitOptions configure adaptiveLimit(). */
export interface AdaptiveLimitOptions {
  /** algorithm is Netflix concurrency-limits' Gradient2, Vegas or AIMD. Default: 'gradient2'. */
  readonly algorithm?: 'gradient2' | 'vegas' | 'aimd';
  /** min is the lowest the limit goes. Minimum: 1. Default: 1. */
  readonly min?: number;
  /** max is the highest the limit goes. Default: 1000. */
  readonly max?: number;
  /** initial is the limit to start from. Default: 20 (within [min, max]). */
  readonly initial?: number;
  /**
   * eventLoop feeds the limit this process's own load too. Every `eventLoopIntervalMs` (checked
   * when a call settles: no timer) it reads the event-loop utilisation over the interval and the
   * event-loop delay (how long a callback queued at that moment waited for the loop: one
   * setImmediate per interval, no handle kept). While utilisation exceeds `maxUtilization` or the
   * delay exceeds `maxEventLoopDelayMs`, samples count as drops and the limit shrinks, so the
   * process sheds load before its event loop lags past that bound. Default: false.
   */
  readonly eventLoop?: boolean;
  /** maxUtilization is the event-loop utilisation (a fraction) above which samples are drops. Default: 0.9. */
  readonly maxUtilization?: number;
  /** maxEventLoopDelayMs is the event-loop delay above which samples are drops. Default: 100. */
  readonly maxEventLoopDelayMs?: number;
  /** eventLoopIntervalMs is how often utilisation and delay are measured. Default: 100. */
  readonly eventLoopIntervalMs?: number;
  /**
   * sampleWindowMs: samples are averaged over windows of at least this long and 10 calls, and
   * each window is one step of the algorithm (Netflix's WindowedLimit). Default: 250.
   */
  readonly sampleWindowMs?: number;
  /** name labels events: a non-empty string. Default: 'adaptiveLimit'. */
  readonly name?: string;
}

// The fewest calls a sample window holds before it counts.
const MIN_WINDOW_CALLS = 10;
// The limit's factor per sample window while the event loop is overloaded (AIMD's decrease).
const OVERLOAD_BACKOFF = 0.9;

/**
 * adaptiveLimit returns a policy that runs at most `limit` calls at once, where the limit adapts
 * to the dependency's latency (Netflix concurrency-limits): it grows while latency holds and
 * shrinks when latency rises or calls time out, converging near the knee where queueing starts. A
 * call over the limit is rejected at once with ConcurrencyLimitError (no queue: shed it, as
 * shedLoad() does). Samples are the latency of successful calls and, as drops, timeouts of a
 * timeout() inside it; a call the caller cancelled is not a sample, and other errors are ignored.
 * Samples are averaged per window (`sampleWindowMs`, at least 10 calls), one algorithm step each.
 * Like a bulkhead, a permit is held until the work settles, even after its caller gave up, in any
 * order of wrap() (a timeout inside it releases the caller, not the permit).
 *
 * @example
 * const limit = adaptiveLimit({ algorithm: 'gradient2', min: 4, max: 200, eventLoop: true });
 * const api = wrap(limit, timeout(1_000));
 * await api.execute(ctx, (ctx) => callBackend(ctx));
 */
export function adaptiveLimit(options?: AdaptiveLimitOptions): AdaptiveLimit {
  const where = 'adaptiveLimit(options)';
  const o = assertOptions(options, where, [
    'algorithm',
    'min',
    'max',
    'initial',
    'eventLoop',
    'maxUtilization',
    'maxEventLoopDelayMs',
    'eventLoopIntervalMs',
    'sampleWindowMs',
    'name',
  ]);
  const algorithm = o.algorithm ?? 'gradient2';
  assertOneOf(algorithm, where, 'algorithm', ['gradient2', 'vegas', 'aimd'] as const);
  const min = o.min ?? 1;
  assertNumber(min, where, 'min', { min: 1, integer: true });
  const max = o.max ?? 1000;
  assertNumber(max, where, 'max', { min, integer: true });
  const initial = o.initial ?? Math.min(max, Math.max(min, 20));
  assertNumber(initial, where, 'initial', { min, max });
  if (o.eventLoop !== undefined && typeof o.eventLoop !== 'boolean') {
    throw invalidArg(`${where}: eventLoop must be a boolean`);
  }
  const maxUtilization = o.maxUtilization ?? 0.9;
  assertNumber(maxUtilization, where, 'maxUtilization', { min: 0, max: 1, unit: 'a fraction' });
  const maxDelayMs = o.maxEventLoopDelayMs ?? 100;
  assertNumber(maxDelayMs, where, 'maxEventLoopDelayMs', { min: 0, infinite: true, unit: 'milliseconds' });
  const intervalMs = o.eventLoopIntervalMs ?? 100;
  assertNumber(intervalMs, where, 'eventLoopIntervalMs', { min: 1, unit: 'milliseconds' });
  const windowMs = o.sampleWindowMs ?? 250;
  assertNumber(windowMs, where, 'sampleWindowMs', { min: 0, unit: 'milliseconds' });
  const bounds = { min, max, initial };
  const algo: LimitAlgorithm =
    algorithm === 'aimd'
      ? new Aimd(bounds)
      : algorithm === 'vegas'
        ? new Vegas(bounds)
        : new Gradient2(bounds);
  return new AdaptiveLimit(
    algo,
    bounds,
    o.eventLoop === true,
    maxUtilization,
    maxDelayMs,
    intervalMs,
    windowMs,
    policyName(o.name, where, 'adaptiveLimit'),
  );
}

/** AdaptiveLimit is the policy made by adaptiveLimit(). */
export class AdaptiveLimit implements InnerPolicy, PermitOwner {
  readonly #algo: LimitAlgorithm;
  readonly #name: string;
  readonly #eventLoop: boolean;
  readonly #maxUtilization: number;
  readonly #maxDelayMs: number;
  readonly #intervalMs: number;
  #inflight = 0;
  #elu = perf.eventLoopUtilization();
  #eluAt = perf.now();
  #overloaded = false;
  // The event-loop delay probe: when the pending one was queued (-1: none pending), and the largest
  // delay measured since the last interval check.
  #probeAt = -1;
  #delay = 0;
  readonly #probe = (): void => {
    const waited = perf.now() - this.#probeAt;
    this.#probeAt = -1;
    if (waited > this.#delay) this.#delay = waited;
  };
  readonly #windowMs: number;
  // The sample window being filled: its start, calls, summed RTT, largest inflight, any drop.
  #windowStart = performance.now();
  #windowCalls = 0;
  #windowRtt = 0;
  #windowInflight = 0;
  #windowDropped = false;
  #windowOverloaded = false;
  readonly #bounds: LimitBounds;

  constructor(
    algo: LimitAlgorithm,
    bounds: LimitBounds,
    eventLoop: boolean,
    maxUtilization: number,
    maxDelayMs: number,
    intervalMs: number,
    windowMs: number,
    name: string,
  ) {
    this.#maxDelayMs = maxDelayMs;
    this.#algo = algo;
    this.#bounds = bounds;
    this.#windowMs = windowMs;
    this.#eventLoop = eventLoop;
    this.#maxUtilization = maxUtilization;
    this.#intervalMs = intervalMs;
    this.#name = name;
  }

  /** limit is the current concurrency limit (calls admitted at once: its floor). */
  get limit(): number {
    return Math.max(1, Math.floor(this.#algo.limit));
  }

  /** inflight is how many calls hold a permit now. */
  get inflight(): number {
    return this.#inflight;
  }

  execute<T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T> {
    return execute(this, ctx, fn, 'adaptiveLimit(options).execute(ctx, fn)');
  }

  /** @internal Its RUN proceeds along a wrap()'s chain. */
  readonly [CHAINS] = true;
  /** @internal Its RUN settles once the work it started has. */
  readonly [SETTLES] = true;
  /** @internal Its RUN calls the rest of the chain at once or not at all. */
  readonly [ONCE] = true;
  /** @internal No caller waits for a permit here: a refused call is refused at once. */
  readonly contended = false;

  [RUN]<T>(ctx: Context, fn: (ctx: Context) => Promise<T>, chain?: Chain, i = 0): Promise<T> {
    const limit = this.limit;
    if (this.#inflight >= limit) return Promise.reject(new ConcurrencyLimitError(limit));
    const inflight = ++this.#inflight;
    const started = performance.now();
    // With a timeout ahead, a negative count says the hand-off told (and its context is the timeout's).
    return holdPermit(this, ctx, fn, chain, i, started, inflight);
  }

  /** @internal The work of a permit taken at `started` with `inflight` calls running has settled. */
  [EXIT](started: number, inflight: number, ctx: Context, ok: boolean, outcome: unknown): void {
    if (inflight < 0) {
      // Told by the timeout inside it (handOff): `ctx` is the timeout's, and its firing is a drop.
      inflight = -inflight;
      if (endedByPolicyTimeout(ctx)) {
        this.#settled(started, inflight, true);
        return;
      }
    }
    if (ok) this.#settled(started, inflight, false);
    else if (callerCancelled(ctx, outcome) || !isDeadlineExceeded(outcome))
      this.#settled(started, inflight, null);
    else this.#settled(started, inflight, true);
  }

  // dropped: null when the call is not a sample.
  #settled(started: number, inflight: number, dropped: boolean | null): void {
    this.#inflight--;
    if (dropped === null) return;
    const now = performance.now();
    this.#windowCalls++;
    this.#windowRtt += now - started;
    if (inflight > this.#windowInflight) this.#windowInflight = inflight;
    if (dropped) this.#windowDropped = true;
    if (this.#eventLoopOverloaded(now)) this.#windowOverloaded = true;
    if (this.#windowCalls < MIN_WINDOW_CALLS || now - this.#windowStart < this.#windowMs) return;
    const before = this.limit;
    if (this.#windowOverloaded) {
      // This process, not the dependency, is the bottleneck: latency says nothing the algorithm can
      // use, and a gradient that treats it as a drop backs off too slowly. A multiplicative
      // decrease per window, whatever the algorithm (Sentinel's system rule sits outside its flow rules too).
      const algo = this.#algo;
      algo.limit = clamp(Math.floor(algo.limit * OVERLOAD_BACKOFF), this.#bounds);
    } else {
      this.#algo.onSample(this.#windowRtt / this.#windowCalls, this.#windowInflight, this.#windowDropped);
    }
    this.#windowStart = now;
    this.#windowCalls = 0;
    this.#windowRtt = 0;
    this.#windowInflight = 0;
    this.#windowDropped = false;
    this.#windowOverloaded = false;
    const after = this.limit;
    if (after !== before && channels.limitChange.hasSubscribers) {
      publish(channels.limitChange, () => ({ name: this.#name, from: before, to: after }));
    }
  }

  #eventLoopOverloaded(now: number): boolean {
    if (!this.#eventLoop) return false;
    if (now - this.#eluAt >= this.#intervalMs) {
      const cur = perf.eventLoopUtilization();
      // A probe still waiting since the last check has waited at least this long already.
      const delay = this.#probeAt >= 0 ? Math.max(this.#delay, now - this.#probeAt) : this.#delay;
      this.#overloaded =
        perf.eventLoopUtilization(cur, this.#elu).utilization > this.#maxUtilization ||
        delay > this.#maxDelayMs;
      this.#elu = cur;
      this.#eluAt = now;
      this.#delay = 0;
      if (this.#probeAt < 0) {
        this.#probeAt = perf.now();
        setImmediate(this.#probe);
      }
    }
    return this.#overloaded;
  }
}
