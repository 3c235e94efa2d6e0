import {
  type Context,
  cause as causeOf,
  DeadlineExceededError,
  isCanceled,
  isDeadlineExceeded,
} from '../context/index.js';
import { assertNumber, assertOptions, type CancelCtx, tree } from '../context/internal.js';
import { policyName, stackless } from './errors.js';
import { channels, publish } from './events.js';
import { CHAINS, type Chain, execute, type InnerPolicy, RACES, RUN, raced, takeHandOff } from './policy.js';

/** TimeoutOptions configure timeout(). */
export interface TimeoutOptions {
  /** name labels events and messages: a non-empty string. Default: 'timeout'. */
  readonly name?: string;
}

// Causes recorded by timeout policies' own deadlines, so that a breaker or a fallback around a
// timeout can tell "this policy's timeout fired" (a failure of the dependency) from "the caller's
// deadline passed" (the caller's decision), whatever the order of composition.
const policyCauses = new WeakSet<object>();

/**
 * @internal
 * isPolicyTimeout reports whether `ctx` ended because a timeout policy's own deadline passed
 * (as opposed to its caller cancelling or the caller's own deadline).
 */
export function endedByPolicyTimeout(ctx: Context): boolean {
  const c = causeOf(ctx);
  return typeof c === 'object' && c !== null && policyCauses.has(c);
}

/**
 * @internal
 * callerCancelled reports whether `err`, the failure of work run under `ctx`, is only the caller's
 * own decision: `ctx` ended by a cancel or the caller's deadline (not a timeout policy's), and the
 * work failed with a cancellation or deadline error.
 */
export function callerCancelled(ctx: Context, err: unknown): boolean {
  return ctx.err !== undefined && (isCanceled(err) || isDeadlineExceeded(err)) && !endedByPolicyTimeout(ctx);
}

/**
 * timeout returns a policy that gives `fn` a context whose deadline is the sooner of the caller's
 * and now + `ms`, on the core's shared timer queue (no Node timer per call). When that deadline
 * passes first, the caller is released at once with a DeadlineExceededError even if `fn` ignores
 * its context; the work keeps running under its cancelled context and keeps any permit it holds
 * until it settles. `cause(ctx)` of `fn`'s context is then a DeadlineExceededError naming this
 * policy, so a breaker or fallback around it counts the timeout as a failure, while the caller's
 * own deadline is never counted. `ms` is milliseconds, a number >= 0 (Infinity: no timeout).
 *
 * @example
 * const user = await timeout(500).execute(ctx, (ctx) => fetchUser(ctx, id));
 */
export function timeout(ms: number, options?: TimeoutOptions): TimeoutPolicy {
  assertNumber(ms, 'timeout(ms)', 'ms', { min: 0, infinite: true, unit: 'milliseconds' });
  const opts = assertOptions(options, 'timeout(ms, options)', ['name']);
  return new TimeoutPolicy(ms, policyName(opts.name, 'timeout(ms, options)', 'timeout'));
}

/** TimeoutPolicy is the policy made by timeout(). */
export class TimeoutPolicy implements InnerPolicy {
  /** ms is the timeout this policy adds, in milliseconds. */
  readonly ms: number;
  readonly #name: string;
  readonly #cause: DeadlineExceededError;
  /** @internal Its RUN races its derived context, which ends with the caller's. */
  readonly [RACES] = true;
  /** @internal Its RUN proceeds along a wrap()'s chain. */
  readonly [CHAINS] = true;
  // Made once: told by the race when the result rejects, to publish this policy's timeouts.
  readonly #onReject = (child: CancelCtx, e: unknown): void => {
    if (channels.timeout.hasSubscribers && e === child.err && endedByPolicyTimeout(child)) {
      publish(channels.timeout, () => ({ name: this.#name, ms: this.ms }));
    }
  };

  constructor(ms: number, name: string) {
    this.ms = ms;
    this.#name = name;
    this.#cause = stackless(() => new DeadlineExceededError(`${name}: timed out after ${ms} ms`));
    policyCauses.add(this.#cause);
  }

  execute<T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T> {
    return execute(this, ctx, fn, 'timeout(ms).execute(ctx, fn)');
  }

  [RUN]<T>(ctx: Context, fn: (ctx: Context) => Promise<T>, chain?: Chain, i = 0): Promise<T> {
    // The derived context is the work's alone: the race ends it once the work settles, so its
    // deadline leaves the shared queue at once (what calling its cancel function does).
    const child = tree.timeoutChild(ctx, this.ms, this.#cause);
    // A bulkhead or breaker outside it may have asked to be told when the work inside it settles.
    if (chain !== undefined) takeHandOff(ctx, chain, i - 1);
    return raced(null, child, this.#onReject, fn, chain, i);
  }
}
