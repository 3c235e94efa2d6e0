// The errors the resilience policies reject with. Each has a stable code and says what to do next.
// A policy never reports a cancellation by the caller with one of these: the caller gets ctx.err.
import { describe, invalidArg } from '../context/internal.js';

/**
 * BrokenCircuitError is the rejection of a call that a circuit breaker did not let through: the
 * breaker is open, forced open, or half-open with every probe taken. The dependency was not
 * called. `retryAfterMs` is the time until the breaker lets a probe through (Infinity when forced
 * open). One instance is shared by every call rejected while the breaker stays open, so the open
 * path allocates no error per call: do not mutate it; wrap it (`{ cause }`) to annotate.
 */
export class BrokenCircuitError extends Error {
  /** code is stable across releases: `'LEASH_ERR_CIRCUIT_OPEN'`. */
  readonly code = 'LEASH_ERR_CIRCUIT_OPEN';
  /** retryAfterMs is how long, from when the breaker opened, until it lets a probe through. */
  readonly retryAfterMs: number;
  /** state is the breaker's state when the call was rejected. */
  readonly state: 'open' | 'half-open' | 'forced-open';
  constructor(state: 'open' | 'half-open' | 'forced-open', retryAfterMs: number, name = 'circuitBreaker') {
    super(
      state === 'forced-open'
        ? `${name}: the circuit is forced open; call reset() to close it`
        : state === 'half-open'
          ? `${name}: the circuit is half-open and every probe is taken; retry after the probes settle`
          : `${name}: the circuit is open after too many failed or slow calls; retry in ${Math.ceil(retryAfterMs)} ms`,
    );
    this.name = 'BrokenCircuitError';
    this.state = state;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * BulkheadRejectedError is the rejection of a call that a bulkhead had no room for: every permit
 * is held and the queue is full, or the caller's remaining budget is shorter than the expected wait.
 */
export class BulkheadRejectedError extends Error {
  /** code is stable across releases: `'LEASH_ERR_BULKHEAD_FULL'`. */
  readonly code = 'LEASH_ERR_BULKHEAD_FULL';
  /** limit and queue are the bulkhead's sizes, for the message and for metrics. */
  readonly limit: number;
  readonly queue: number;
  constructor(limit: number, queue: number, reason: 'full' | 'budget' = 'full', name = 'bulkhead') {
    super(
      reason === 'full'
        ? `${name}: all ${limit} permits are held and the queue (${queue}) is full; raise limit or queue, or shed load earlier`
        : `${name}: the caller's remaining budget is shorter than the expected wait for a permit; give the call a longer deadline`,
    );
    this.name = 'BulkheadRejectedError';
    this.limit = limit;
    this.queue = queue;
  }
}

/**
 * RateLimitedError is the rejection of a call over a rate limit. `retryAfterMs` is when a call
 * would next be admitted (the value for a `Retry-After` header; retry() waits for it by default).
 */
export class RateLimitedError extends Error {
  /** code is stable across releases: `'LEASH_ERR_RATE_LIMITED'`. */
  readonly code = 'LEASH_ERR_RATE_LIMITED';
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number, name = 'rateLimiter') {
    super(`${name}: rate limit exceeded; retry in ${Math.ceil(retryAfterMs)} ms`);
    this.name = 'RateLimitedError';
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * RateLimitStoreError is the rejection by a redisRateLimiter with `onStoreError: 'reject'` when
 * Redis did not answer in time or failed. It is never a RateLimitedError: the limit was not
 * decided. `cause` holds the store's error.
 */
export class RateLimitStoreError extends Error {
  /** code is stable across releases: `'LEASH_ERR_RATE_LIMIT_STORE'`. */
  readonly code = 'LEASH_ERR_RATE_LIMIT_STORE';
  constructor(name: string, cause: unknown) {
    super(
      `redisRateLimiter ${name}: the store did not decide (${describeCause(cause)}); check Redis, or choose onStoreError 'allow' or 'local'`,
      {
        cause,
      },
    );
    this.name = 'RateLimitStoreError';
  }
}

/**
 * ConcurrencyLimitError is the rejection of a call by an adaptive concurrency limit at its current
 * limit. Like a full bulkhead, it means "shed this call".
 */
export class ConcurrencyLimitError extends Error {
  /** code is stable across releases: `'LEASH_ERR_CONCURRENCY_LIMIT'`. */
  readonly code = 'LEASH_ERR_CONCURRENCY_LIMIT';
  readonly limit: number;
  constructor(limit: number) {
    super(`adaptiveLimit: ${limit} calls are in flight, the current limit; shed the call or retry later`);
    this.name = 'ConcurrencyLimitError';
    this.limit = limit;
  }
}

function describeCause(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** @internal Builds an error without a stack trace (shared instances; a stack costs microseconds). */
export function stackless<E extends Error>(make: () => E): E {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * @internal
 * policyName checks a factory's `name` option: undefined gives `fallback`; anything but a non-empty
 * string (what createCache and withLabel accept as a name) throws LEASH_ERR_INVALID_ARG, since
 * the name ends up in messages and event payloads.
 */
export function policyName(name: unknown, where: string, fallback: string): string {
  if (name === undefined) return fallback;
  if (typeof name !== 'string' || name === '') {
    throw invalidArg(`${where}: name must be a non-empty string, got ${describe(name)}`);
  }
  return name;
}

/** @internal What a callback option was handling when it failed: nothing (a key, a context). */
export const NO_OUTCOME: unique symbol = Symbol('leash.resilience.no-outcome');

/**
 * @internal
 * CallbackRule says what a callback option (a predicate, a backoff, a key) must return, and what
 * its caller is told when it does not: `call` names it as written (`retryOn(err, attempt)`),
 * `valid` accepts what it may return, `expected` says so in words, `fix` says what happened to
 * the call and what to do.
 */
export interface CallbackRule {
  readonly call: string;
  readonly valid: (r: unknown) => boolean;
  readonly expected: string;
  readonly fix: string;
}

/** @internal isBoolean is the rule's `valid` of a predicate. */
export const isBoolean = (r: unknown): boolean => typeof r === 'boolean';

/**
 * @internal
 * callChecked calls the callback option `f` with `this` = `self` and the arguments `a` (and `b`,
 * when given), and returns what it returned if `rule.valid` accepts it. Otherwise (it threw, or
 * returned what it must not) it throws the LEASH_ERR_INVALID_ARG a policy rejects with: a bug in
 * the caller's code, reported to the caller rather than swallowed or left as an unhandled
 * rejection, starting with `where` (the policy's name). When the callback was judging a call's
 * outcome (`outcome`, the call's own error), that outcome is the error's `cause`, so the
 * dependency's error is never lost, and what the callback threw is `thrown`; with NO_OUTCOME,
 * what it threw is the `cause`.
 */
export function callChecked(
  where: string,
  rule: CallbackRule,
  outcome: unknown,
  f: (...args: never[]) => unknown,
  self: unknown,
  a: unknown,
  b: unknown = NO_ARG,
): unknown {
  let r: unknown;
  try {
    const call = f as (this: unknown, ...args: unknown[]) => unknown;
    r = b === NO_ARG ? call.call(self, a) : call.call(self, a, b);
  } catch (thrown) {
    throw callbackError(where, rule, { thrown }, outcome);
  }
  if (rule.valid(r)) return r;
  throw callbackError(where, rule, { returned: r }, outcome);
}

const NO_ARG: unique symbol = Symbol('leash.resilience.no-arg');

function callbackError(
  where: string,
  rule: CallbackRule,
  failure: { readonly thrown: unknown } | { readonly returned: unknown },
  outcome: unknown,
): TypeError & { code: 'LEASH_ERR_INVALID_ARG'; cause?: unknown; thrown?: unknown } {
  const threw = 'thrown' in failure;
  const e = invalidArg(
    threw
      ? `${where}: ${rule.call} threw ${describeThrown(failure.thrown)}; ${rule.fix}`
      : `${where}: ${rule.call} must return ${rule.expected}, got ${describe(failure.returned)}; ${rule.fix}`,
  ) as TypeError & { code: 'LEASH_ERR_INVALID_ARG'; cause?: unknown; thrown?: unknown };
  if (outcome !== NO_OUTCOME) {
    e.cause = outcome;
    if (threw) e.thrown = failure.thrown;
  } else if (threw) e.cause = failure.thrown;
  return e;
}

function describeThrown(v: unknown): string {
  try {
    if (v instanceof Error)
      return `${v.name}: ${JSON.stringify(v.message.length > 80 ? `${v.message.slice(0, 80)}...` : v.message)}`;
  } catch {
    // A proxy or an error whose name or message throws: described as a value.
  }
  return describe(v);
}
