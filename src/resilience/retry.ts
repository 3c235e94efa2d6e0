import { type Context, remaining, sleep } from '../context/index.js';
import { assertFunction, assertNumber, assertOptions, describe, invalidArg } from '../context/internal.js';
import { type Backoff, exponentialBackoff } from './backoff.js';
import { type CallbackRule, callChecked, isBoolean, policyName } from './errors.js';
import { channels, publish, type RetryGiveUpEvent } from './events.js';
import { CHAINS, type Chain, execute, type InnerPolicy, proceed, RUN } from './policy.js';
import { RetryBudget } from './retry-budget.js';
import { endedByPolicyTimeout } from './timeout.js';
import { SETTLES } from './work.js';

/** RetryOptions configure retry(). */
export interface RetryOptions {
  /** maxAttempts counts every attempt, the first included. An integer >= 1. Default: 3. */
  readonly maxAttempts?: number;
  /**
   * backoff is the wait before each retry: its delayMs must return a number of milliseconds >= 0
   * (Infinity: no wait fits, the retry is given up with reason 'deadline'). Default:
   * exponentialBackoff() (100 ms doubling to 30 s, full jitter).
   */
  readonly backoff?: Backoff;
  /**
   * retryOn says whether an error is worth another attempt: true or false. Default: every error but an open
   * circuit's BrokenCircuitError (the breaker has just said the dependency is down; waiting out its
   * openMs inside one call rarely helps the caller).
   */
  readonly retryOn?: (err: unknown, attempt: number) => boolean;
  /**
   * retryAfter reads how long the dependency asked to wait (an HTTP `Retry-After`, a rate limit),
   * in ms (a number >= 0; Infinity gives the retry up as backoff's does), or undefined; the wait
   * is then at least that. Default: the error's `retryAfterMs` when it is a finite number
   * (RateLimitedError, BrokenCircuitError).
   */
  readonly retryAfter?: (err: unknown) => number | undefined;
  /** budget is a retryBudget() shared with other policies; a retry it refuses is not made. Default: none. */
  readonly budget?: RetryBudget;
  /** name labels events and messages: a non-empty string. Default: 'retry'. */
  readonly name?: string;
}

// Weight of the newest sample in the running estimate of an attempt's duration.
const EWMA_WEIGHT = 0.2;

function defaultRetryOn(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code !== 'LEASH_ERR_CIRCUIT_OPEN';
}

function defaultRetryAfter(err: unknown): number | undefined {
  const v = (err as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

/**
 * retry returns a policy that calls `fn` up to `maxAttempts` times while it fails with an error
 * `retryOn` accepts (by default every error but an open circuit's), waiting `backoff` (or what `retryAfter` asks, if longer) between attempts.
 * It never starts an attempt that cannot finish before the caller's deadline: a retry is given up
 * when the wait plus a running estimate of an attempt's duration exceeds the remaining budget, and
 * the policy rejects with the last error. Waits are cancelled with the context (the caller gets
 * ctx.err at once and no timer is left). With a shared `budget`, a retry the budget refuses is not
 * made. The caller's own cancellation is never retried. Every attempt gets the caller's context;
 * put a timeout() inside retry for a per-attempt deadline.
 *
 * A `retryOn`, `retryAfter` or `backoff.delayMs` that throws or returns what it must not (retryOn:
 * a boolean; the others: a number of milliseconds >= 0, retryAfter undefined too) is a bug in the
 * caller's code: no further attempt is made, and the policy rejects with a TypeError
 * (LEASH_ERR_INVALID_ARG) naming the option, whose `cause` is the error that led to the retry
 * (and `thrown` what the callback threw).
 *
 * @example
 * const policy = retry({ maxAttempts: 4, backoff: exponentialBackoff({ initialMs: 50, maxMs: 1_000 }) });
 * const body = await policy.execute(ctx, (ctx) => fetchJson(ctx, url));
 */
export function retry(options?: RetryOptions): RetryPolicy {
  const where = 'retry(options)';
  const o = assertOptions(options, where, [
    'maxAttempts',
    'backoff',
    'retryOn',
    'retryAfter',
    'budget',
    'name',
  ]);
  const maxAttempts = o.maxAttempts ?? 3;
  assertNumber(maxAttempts, where, 'maxAttempts', { min: 1, integer: true, infinite: true });
  if (o.backoff !== undefined && typeof (o.backoff as Backoff | null)?.delayMs !== 'function') {
    throw invalidArg(
      `${where}: backoff must be a Backoff such as exponentialBackoff() or constantBackoff(ms), got ${describe(o.backoff)}`,
    );
  }
  if (o.retryOn !== undefined) assertFunction(o.retryOn, where, 'retryOn');
  if (o.retryAfter !== undefined) assertFunction(o.retryAfter, where, 'retryAfter');
  if (o.budget !== undefined && !(o.budget instanceof RetryBudget)) {
    throw invalidArg(`${where}: budget must come from retryBudget(), got ${describe(o.budget)}`);
  }
  return new RetryPolicy(
    maxAttempts,
    o.backoff ?? exponentialBackoff(),
    o.retryOn ?? defaultRetryOn,
    o.retryAfter ?? defaultRetryAfter,
    o.budget,
    policyName(o.name, where, 'retry'),
  );
}

// What retry's callback options must return (callChecked), and what its caller is told otherwise.
const GIVEN_UP = "the error that led to the retry is this error's cause";
const MS = 'a number of milliseconds >= 0 (Infinity: give the retry up)';
const isMs = (r: unknown): boolean => typeof r === 'number' && r >= 0;
const RETRY_ON: CallbackRule = {
  call: 'retryOn(err, attempt)',
  valid: isBoolean,
  expected: 'true or false',
  fix: `no further attempt was made. Fix retryOn; ${GIVEN_UP}`,
};
const DELAY: CallbackRule = {
  call: 'backoff.delayMs(attempt, previousMs)',
  valid: isMs,
  expected: MS,
  fix: `no further attempt was made. Fix backoff.delayMs; ${GIVEN_UP}`,
};
const RETRY_AFTER: CallbackRule = {
  call: 'retryAfter(err)',
  valid: (r) => r === undefined || isMs(r),
  expected: `${MS} or undefined`,
  fix: `no further attempt was made. Fix retryAfter; ${GIVEN_UP}`,
};

/** RetryPolicy is the policy made by retry(). */
export class RetryPolicy implements InnerPolicy {
  readonly maxAttempts: number;
  readonly #backoff: Backoff;
  readonly #retryOn: ((err: unknown, attempt: number) => boolean) | undefined;
  readonly #retryAfter: (err: unknown) => number | undefined;
  readonly #budget: RetryBudget | undefined;
  readonly #name: string;
  #attemptMs = 0;

  constructor(
    maxAttempts: number,
    backoff: Backoff,
    retryOn: ((err: unknown, attempt: number) => boolean) | undefined,
    retryAfter: (err: unknown) => number | undefined,
    budget: RetryBudget | undefined,
    name: string,
  ) {
    this.maxAttempts = maxAttempts;
    this.#backoff = backoff;
    this.#retryOn = retryOn;
    this.#retryAfter = retryAfter;
    this.#budget = budget;
    this.#name = name;
  }

  /** attemptEstimateMs is the running estimate of how long an attempt takes (0 until one has finished). */
  get attemptEstimateMs(): number {
    return this.#attemptMs;
  }

  execute<T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T> {
    return execute(this, ctx, fn, 'retry(options).execute(ctx, fn)');
  }

  /** @internal Its RUN proceeds along a wrap()'s chain. */
  readonly [CHAINS] = true;
  /** @internal Each attempt is awaited before the next: its RUN settles once its work has. */
  readonly [SETTLES] = true;

  [RUN]<T>(ctx: Context, fn: (ctx: Context) => Promise<T>, chain?: Chain, i = 0): Promise<T> {
    this.#budget?.deposit();
    const started = performance.now();
    // The first attempt without an async frame: the common path (it succeeds) costs one then.
    return proceed(ctx, fn, chain, i).then(
      (v) => {
        this.#sample(performance.now() - started);
        return v;
      },
      (e: unknown) => this.#afterFailure(ctx, fn, chain, i, e, 1, 0, started),
    );
  }

  async #afterFailure<T>(
    ctx: Context,
    fn: (ctx: Context) => Promise<T>,
    chain: Chain | undefined,
    i: number,
    err: unknown,
    attempt: number,
    previousMs: number,
    started: number,
  ): Promise<T> {
    for (;;) {
      // The caller left: its decision, never retried (its race already answered it).
      if (ctx.err !== undefined && !endedByPolicyTimeout(ctx)) throw err;
      this.#sample(performance.now() - started);
      if (attempt >= this.maxAttempts) return this.#giveUp(attempt, 'attempts', err);
      const name = this.#name;
      if (
        this.#retryOn !== undefined &&
        !callChecked(name, RETRY_ON, err, this.#retryOn, undefined, err, attempt)
      ) {
        return this.#giveUp(attempt, 'not-retryable', err);
      }
      const backoff = this.#backoff;
      let delay = callChecked(name, DELAY, err, backoff.delayMs, backoff, attempt, previousMs) as number;
      const asked = callChecked(name, RETRY_AFTER, err, this.#retryAfter, undefined, err) as
        | number
        | undefined;
      if (asked !== undefined && asked > delay) delay = asked;
      // No attempt starts that cannot finish before the deadline.
      if (delay + this.#attemptMs >= remaining(ctx)) return this.#giveUp(attempt, 'deadline', err);
      if (this.#budget !== undefined && !this.#budget.tryWithdraw())
        return this.#giveUp(attempt, 'budget', err);
      if (channels.retry.hasSubscribers) {
        const a = attempt;
        const d = delay;
        publish(channels.retry, () => ({ name: this.#name, attempt: a, delayMs: d, error: err }));
      }
      if (delay > 0) await sleep(ctx, delay);
      previousMs = delay;
      attempt++;
      started = performance.now();
      try {
        const v = await proceed(ctx, fn, chain, i);
        this.#sample(performance.now() - started);
        return v;
      } catch (e) {
        err = e;
      }
    }
  }

  #sample(ms: number): void {
    this.#attemptMs = this.#attemptMs === 0 ? ms : this.#attemptMs + EWMA_WEIGHT * (ms - this.#attemptMs);
  }

  #giveUp(attempts: number, reason: RetryGiveUpEvent['reason'], error: unknown): never {
    if (channels.retryGiveUp.hasSubscribers) {
      publish(channels.retryGiveUp, () => ({ name: this.#name, attempts, reason, error }));
    }
    throw error;
  }
}
