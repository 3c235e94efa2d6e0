import { type Context, remaining, sleep } from '../context/index.js';
import {
  assertFunction,
  assertNumber,
  assertOneOf,
  assertOptions,
  describe,
  invalidArg,
} from '../context/internal.js';
import { type CallbackRule, callChecked, NO_OUTCOME, policyName, RateLimitedError } from './errors.js';
import { channels, publish } from './events.js';
import { execute, type InnerPolicy, invoke, RUN } from './policy.js';
import { SETTLES } from './work.js';

/** RateLimiterOptions configure rateLimiter(). */
export interface RateLimiterOptions {
  /** rate is how many calls are admitted per `perMs`. A number > 0. Required. */
  readonly rate: number;
  /** perMs is the period `rate` is counted over, in milliseconds. Default: 1000. */
  readonly perMs?: number;
  /** burst is how many calls may be admitted at once after a quiet spell (the bucket's size). Minimum: 1. Default: rate. */
  readonly burst?: number;
  /** onLimit: 'reject' answers a call over the limit with RateLimitedError at once; 'wait' delays it until it conforms. Default: 'reject'. */
  readonly onLimit?: 'reject' | 'wait';
  /** maxWaitMs bounds a wait ('wait' only); the caller's remaining budget bounds it too. Default: 1000. */
  readonly maxWaitMs?: number;
  /**
   * key gives each call its own limit (a user, a tenant, a hot parameter): calls whose key(ctx)
   * returns the same string share a bucket. It must return a string. Default: one limit for all.
   */
  readonly key?: (ctx: Context) => string;
  /** maxKeys bounds the keys remembered; the least recently used is forgotten first. Default: 10000. */
  readonly maxKeys?: number;
  /** name labels events and messages: a non-empty string. Default: 'rateLimiter'. */
  readonly name?: string;
}

/**
 * @internal
 * Gcra is the Generic Cell Rate Algorithm (a token bucket kept as one number per key: the
 * theoretical arrival time, TAT). A call at `now` conforms when TAT + interval - burst * interval
 * <= now; admitting it moves TAT on by one interval. Keys live in a Map in least-recently-used
 * order, capped at maxKeys. A forgotten key starts again with a full bucket, so the cap trades a
 * little precision on cold keys for bounded memory (Sentinel's hot-parameter rule does the same).
 */
export class Gcra {
  readonly interval: number;
  // How far ahead of now TAT may be for a call to conform: (burst - 1) intervals.
  readonly #slack: number;
  readonly #maxKeys: number;
  #tat = Number.NEGATIVE_INFINITY;
  readonly #keys = new Map<string, number>();

  constructor(rate: number, perMs: number, burst: number, maxKeys: number) {
    this.interval = perMs / rate;
    this.#slack = (burst - 1) * this.interval;
    this.#maxKeys = maxKeys;
  }

  /** keys is how many keys are remembered. */
  get keys(): number {
    return this.#keys.size;
  }

  /**
   * take admits one call at `now` if it conforms (returns 0), or returns how long until it would
   * (> 0) without admitting it. With `reserveUpTo`, a call that would conform within that many ms
   * is admitted now for that later moment (its slot is reserved) and the wait is returned negated.
   */
  take(key: string | undefined, now: number, reserveUpTo = 0): number {
    const stored = key === undefined ? this.#tat : (this.#keys.get(key) ?? Number.NEGATIVE_INFINITY);
    const tat = Math.max(stored, now);
    const next = tat + this.interval;
    // (tat - now) - (tolerance - interval) rather than next - tolerance - now: the same value with
    // fewer roundings, so a fresh bucket is exactly 0 ms away. The nanosecond of slack absorbs the rest.
    let wait = tat - now - this.#slack;
    if (wait < 1e-6) wait = 0;
    if (wait > 0 && wait > reserveUpTo) {
      // A limited key is a hot key: keep it most recently used, so it is the last forgotten.
      if (key !== undefined) this.#store(key, stored);
      return wait;
    }
    if (key === undefined) this.#tat = next;
    else this.#store(key, next);
    return wait > 0 ? -wait : 0;
  }

  /** giveBack returns a reserved slot whose caller left before using it. */
  giveBack(key: string | undefined, now: number): void {
    if (key === undefined) this.#tat = Math.max(now, this.#tat - this.interval);
    else {
      const t = this.#keys.get(key);
      if (t !== undefined) this.#keys.set(key, Math.max(now, t - this.interval));
    }
  }

  #store(key: string, tat: number): void {
    const keys = this.#keys;
    if (keys.has(key)) keys.delete(key);
    else if (keys.size >= this.#maxKeys) {
      const oldest = keys.keys().next().value as string;
      keys.delete(oldest);
    }
    keys.set(key, tat);
  }
}

const KEY: CallbackRule = {
  call: 'key(ctx)',
  valid: (k) => typeof k === 'string',
  expected: 'a string (calls with the same string share a bucket)',
  fix: "the call was not run. Fix key to return an id such as a user's or a tenant's, or 'anonymous'; what it threw, if anything, is this error's cause",
};

/**
 * @internal
 * callKey calls a limiter's `key(ctx)` and returns its string, or throws LEASH_ERR_INVALID_ARG
 * naming key when it throws (its error the cause) or returns anything but a string.
 */
export function callKey(ctx: Context, key: (ctx: Context) => unknown, name: string): string {
  return callChecked(name, KEY, NO_OUTCOME, key, undefined, ctx) as string;
}

/**
 * rateLimiter returns a policy that admits `rate` calls per `perMs` with bursts of up to `burst`
 * (a token bucket, kept as GCRA: one number per key, O(1), no timer). Over the limit, 'reject'
 * answers RateLimitedError with `retryAfterMs` at once; 'wait' delays the call until its turn if
 * that is within `maxWaitMs` and the caller's remaining budget, and rejects at once otherwise. A
 * waiting caller whose context ends gets ctx.err at once and gives its slot back. With `key`, each
 * key has its own bucket, and at most `maxKeys` are remembered. `tryTake(key?)` takes a slot
 * without running anything. A `key` that throws or returns anything but a string (an object would
 * be a new bucket per call: no limit at all) is a bug in the caller's code: the call is not run
 * and rejects with a TypeError (LEASH_ERR_INVALID_ARG) naming key, whose `cause` is what key threw.
 *
 * @example
 * const perUser = rateLimiter({ rate: 10, perMs: 1_000, burst: 20, key: (ctx) => ctx.value(userKey) ?? 'anonymous' });
 * await perUser.execute(ctx, (ctx) => search(ctx, q));
 */
export function rateLimiter(options: RateLimiterOptions): RateLimiter {
  const where = 'rateLimiter(options)';
  const o = assertOptions(options, where, [
    'rate',
    'perMs',
    'burst',
    'onLimit',
    'maxWaitMs',
    'key',
    'maxKeys',
    'name',
  ]);
  assertNumber(o.rate, where, 'rate', { min: Number.MIN_VALUE });
  const perMs = o.perMs ?? 1000;
  assertNumber(perMs, where, 'perMs', { min: Number.MIN_VALUE, unit: 'milliseconds' });
  const burst = o.burst ?? Math.max(1, o.rate);
  assertNumber(burst, where, 'burst', { min: 1 });
  const onLimit = o.onLimit ?? 'reject';
  assertOneOf(onLimit, where, 'onLimit', ['reject', 'wait'] as const);
  const maxWaitMs = o.maxWaitMs ?? 1000;
  assertNumber(maxWaitMs, where, 'maxWaitMs', { min: 0, infinite: true, unit: 'milliseconds' });
  if (o.key !== undefined) assertFunction(o.key, where, 'key');
  const maxKeys = o.maxKeys ?? 10_000;
  assertNumber(maxKeys, where, 'maxKeys', { min: 1, integer: true });
  return new RateLimiter(
    new Gcra(o.rate, perMs, burst, maxKeys),
    onLimit === 'wait',
    maxWaitMs,
    o.key,
    policyName(o.name, where, 'rateLimiter'),
  );
}

/** RateLimiter is the policy made by rateLimiter(). */
export class RateLimiter implements InnerPolicy {
  readonly #gcra: Gcra;
  readonly #wait: boolean;
  readonly #maxWaitMs: number;
  readonly #key: ((ctx: Context) => string) | undefined;
  readonly #name: string;

  constructor(
    gcra: Gcra,
    wait: boolean,
    maxWaitMs: number,
    key: ((ctx: Context) => string) | undefined,
    name: string,
  ) {
    this.#gcra = gcra;
    this.#wait = wait;
    this.#maxWaitMs = maxWaitMs;
    this.#key = key;
    this.#name = name;
  }

  /** keys is how many per-key buckets are remembered (at most maxKeys). */
  get keys(): number {
    return this.#gcra.keys;
  }

  /** tryTake takes one slot for `key` (a string; omitted: the shared bucket) if one is free now, and reports whether it did. */
  tryTake(key?: string): boolean {
    if (key !== undefined && typeof key !== 'string') {
      throw invalidArg(
        `rateLimiter(options).tryTake(key): key must be a string or omitted, got ${describe(key)}`,
      );
    }
    return this.#gcra.take(key, performance.now()) === 0;
  }

  execute<T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T> {
    return execute(this, ctx, fn, 'rateLimiter(options).execute(ctx, fn)');
  }

  /** @internal Its RUN settles once the work it started has. */
  readonly [SETTLES] = true;

  [RUN]<T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T> {
    let key: string | undefined;
    if (this.#key !== undefined) {
      try {
        key = callKey(ctx, this.#key, this.#name);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    const now = performance.now();
    const bound = this.#wait ? Math.min(this.#maxWaitMs, remaining(ctx)) : 0;
    const r = this.#gcra.take(key, now, bound);
    if (r === 0) return invoke(fn, ctx);
    if (r > 0) return this.#limited(key, r);
    return sleep(ctx, -r).then(
      () => invoke(fn, ctx),
      (e: unknown) => {
        this.#gcra.giveBack(key, performance.now());
        throw e;
      },
    );
  }

  #limited<T>(key: string | undefined, retryAfterMs: number): Promise<T> {
    if (channels.rateLimited.hasSubscribers) {
      publish(channels.rateLimited, () => ({ name: this.#name, key, retryAfterMs }));
    }
    return Promise.reject(new RateLimitedError(retryAfterMs, this.#name));
  }
}
