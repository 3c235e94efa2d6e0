import { type Context, withTimeout } from '../context/index.js';
import {
  assertFunction,
  assertNumber,
  assertOneOf,
  assertOptions,
  describe,
  evalScript,
  invalidArg,
  luaScript,
} from '../context/internal.js';
import { RateLimitedError, RateLimitStoreError } from './errors.js';
import { channels, publish } from './events.js';
import { execute, type InnerPolicy, invoke, RUN, race } from './policy.js';
import { callKey, Gcra } from './rate-limiter.js';

/**
 * RedisScripting is the part of an ioredis client (Redis or Cluster) the limiter uses. Any client
 * with these two methods works.
 */
export interface RedisScripting {
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/** RedisRateLimiterOptions configure redisRateLimiter(). */
export interface RedisRateLimiterOptions {
  /** redis is an ioredis client or cluster (optional peer dependency). Required. */
  readonly redis: RedisScripting;
  /** name names the limit; its Redis key is `leash:ratelimit:{name}` (a hash tag, so it runs on Redis Cluster). Required. */
  readonly name: string;
  /** rate is how many calls are admitted per `perMs`, across every process. Required. */
  readonly rate: number;
  /** perMs is the period `rate` is counted over. Default: 1000. */
  readonly perMs?: number;
  /** burst is how many calls may be admitted at once. Minimum: 1. Default: rate. */
  readonly burst?: number;
  /**
   * onStoreError says what a call gets when Redis fails or does not answer within storeTimeoutMs:
   * 'allow' runs it, 'reject' rejects it with RateLimitStoreError (never RateLimitedError), 'local'
   * decides with a limiter of the same rate in this process. Required: there is no safe default.
   */
  readonly onStoreError: 'allow' | 'reject' | 'local';
  /** storeTimeoutMs bounds the wait for Redis (the caller's deadline bounds it too). Default: 100. */
  readonly storeTimeoutMs?: number;
  /**
   * key gives each call its own limit; the Redis key becomes `leash:ratelimit:{name:key}`. It must
   * return a string (one that throws or does not is a LEASH_ERR_INVALID_ARG rejection, the call
   * not run). Default: one limit.
   */
  readonly key?: (ctx: Context) => string;
}

// GCRA in one script, so the read and the write are atomic across every process. Time comes from
// the Redis server (TIME), so clients' clocks do not matter. TAT is stored as a decimal string of
// epoch milliseconds (Lua would truncate a returned float), with a TTL of when the bucket is full
// again, so idle keys disappear.
const SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local slack = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
local wait = tat - now - slack
if wait > 0.000001 then
  return {0, string.format('%.3f', wait)}
end
local nextTat = tat + interval
redis.call('SET', KEYS[1], string.format('%.3f', nextTat), 'PX', math.ceil(nextTat - now) + 1)
return {1, '0'}
`;
/** @internal The script and its SHA1 (the bench calls it directly with EVALSHA as a floor). */
export const GCRA = luaScript(SCRIPT);

/**
 * redisRateLimiter returns a rate limiter shared by every process that uses the same Redis and
 * `name`: GCRA in one Lua script (EVALSHA, loaded on first NOSCRIPT), atomic across processes, its
 * key carrying a hash tag so that it runs on Redis Cluster. Over the limit a call is rejected with
 * RateLimitedError and `retryAfterMs`. When Redis fails or does not answer within
 * `storeTimeoutMs` (and the caller's deadline), the call follows `onStoreError`, decided within
 * that bound; a store error is never reported as a rate limit. A caller whose context ends gets
 * ctx.err at once. With ioredis's offline queue (its default), a call that timed out while Redis
 * was away may still be counted by Redis once the connection is back: that errs on the side of
 * the limit. Set `enableOfflineQueue: false` on the client to fail fast instead.
 *
 * @example
 * import Redis from 'ioredis';
 * const limit = redisRateLimiter({ redis: new Redis(), name: 'search', rate: 100, perMs: 1_000, onStoreError: 'local' });
 * await limit.execute(ctx, (ctx) => search(ctx, q));
 */
export function redisRateLimiter(options: RedisRateLimiterOptions): RedisRateLimiter {
  const where = 'redisRateLimiter(options)';
  const o = assertOptions(options, where, [
    'redis',
    'name',
    'rate',
    'perMs',
    'burst',
    'onStoreError',
    'storeTimeoutMs',
    'key',
  ]);
  const r = o.redis as Partial<RedisScripting> | undefined;
  if (typeof r?.evalsha !== 'function' || typeof r.eval !== 'function') {
    throw invalidArg(
      `${where}: redis must be an ioredis client or cluster (with evalsha and eval), got ${describe(o.redis)}`,
    );
  }
  if (typeof o.name !== 'string' || o.name === '' || /[{}]/.test(o.name)) {
    throw invalidArg(`${where}: name must be a non-empty string without braces, got ${describe(o.name)}`);
  }
  assertNumber(o.rate, where, 'rate', { min: Number.MIN_VALUE });
  const perMs = o.perMs ?? 1000;
  assertNumber(perMs, where, 'perMs', { min: Number.MIN_VALUE, unit: 'milliseconds' });
  const burst = o.burst ?? Math.max(1, o.rate);
  assertNumber(burst, where, 'burst', { min: 1 });
  assertOneOf(o.onStoreError, where, 'onStoreError', ['allow', 'reject', 'local'] as const);
  const storeTimeoutMs = o.storeTimeoutMs ?? 100;
  assertNumber(storeTimeoutMs, where, 'storeTimeoutMs', { min: 0, unit: 'milliseconds' });
  if (o.key !== undefined) assertFunction(o.key, where, 'key');
  return new RedisRateLimiter(o.redis, o.name, o.rate, perMs, burst, o.onStoreError, storeTimeoutMs, o.key);
}

/** RedisRateLimiter is the policy made by redisRateLimiter(). */
export class RedisRateLimiter implements InnerPolicy {
  readonly name: string;
  readonly #redis: RedisScripting;
  readonly #args: [string, string];
  readonly #onStoreError: 'allow' | 'reject' | 'local';
  readonly #storeTimeoutMs: number;
  readonly #key: ((ctx: Context) => string) | undefined;
  readonly #local: Gcra;

  constructor(
    redis: RedisScripting,
    name: string,
    rate: number,
    perMs: number,
    burst: number,
    onStoreError: 'allow' | 'reject' | 'local',
    storeTimeoutMs: number,
    key: ((ctx: Context) => string) | undefined,
  ) {
    this.name = name;
    this.#redis = redis;
    const interval = perMs / rate;
    this.#args = [String(interval), String((burst - 1) * interval)];
    this.#onStoreError = onStoreError;
    this.#storeTimeoutMs = storeTimeoutMs;
    this.#key = key;
    this.#local = new Gcra(rate, perMs, burst, 10_000);
  }

  /** redisKey is the Redis key of `key`'s bucket (or the shared one). */
  redisKey(key?: string): string {
    return key === undefined ? `leash:ratelimit:{${this.name}}` : `leash:ratelimit:{${this.name}:${key}}`;
  }

  execute<T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T> {
    return execute(this, ctx, fn, 'redisRateLimiter(options).execute(ctx, fn)');
  }

  [RUN]<T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T> {
    let key: string | undefined;
    if (this.#key !== undefined) {
      try {
        key = callKey(ctx, this.#key, this.name);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return this.#decide(ctx, key).then((retryAfterMs) =>
      retryAfterMs === 0 ? invoke(fn, ctx) : Promise.reject(this.#limited(key, retryAfterMs)),
    );
  }

  /**
   * take asks whether a call for `key` is admitted now, taking its slot if so: it resolves to 0,
   * or to the milliseconds until one would be (the call is then not admitted). Store errors follow
   * onStoreError ('reject' rejects with RateLimitStoreError); a caller whose context ends gets ctx.err.
   */
  take(ctx: Context, key?: string): Promise<number> {
    const err = ctx.err;
    if (err !== undefined) return Promise.reject(err);
    return race(ctx, this.#decide(ctx, key));
  }

  #decide(ctx: Context, key: string | undefined): Promise<number> {
    const [bounded, cancel] = withTimeout(ctx, this.#storeTimeoutMs);
    return race(bounded, this.#eval(this.redisKey(key))).then(
      (reply) => {
        cancel();
        let r: number;
        try {
          r = parseReply(reply);
        } catch (e) {
          return this.#storeFailed(key, e);
        }
        return r;
      },
      (e: unknown) => {
        cancel();
        // The caller left: its decision, not a store error.
        if (ctx.err !== undefined) throw ctx.err;
        return this.#storeFailed(key, e === bounded.err ? storeTimeout(this.#storeTimeoutMs) : e);
      },
    );
  }

  #eval(redisKey: string): Promise<unknown> {
    const [interval, slack] = this.#args;
    return evalScript(this.#redis, GCRA, [redisKey], [interval, slack]);
  }

  #storeFailed(key: string | undefined, error: unknown): number {
    const decision = this.#onStoreError;
    if (channels.storeError.hasSubscribers) {
      publish(channels.storeError, () => ({ name: this.name, error, decision }));
    }
    if (decision === 'allow') return 0;
    if (decision === 'reject') throw new RateLimitStoreError(this.name, error);
    const r = this.#local.take(key, performance.now());
    return Math.max(r, 0);
  }

  #limited(key: string | undefined, retryAfterMs: number): RateLimitedError {
    if (channels.rateLimited.hasSubscribers) {
      publish(channels.rateLimited, () => ({ name: this.name, key, retryAfterMs }));
    }
    return new RateLimitedError(retryAfterMs, this.name);
  }
}

function storeTimeout(ms: number): Error {
  const e = new Error(`Redis did not answer within ${ms} ms`) as Error & { code: string };
  e.code = 'LEASH_ERR_STORE_TIMEOUT';
  return e;
}

function parseReply(reply: unknown): number {
  if (!Array.isArray(reply) || reply.length !== 2)
    throw new Error(`unexpected reply from the rate limit script: ${describe(reply)}`);
  if (Number(reply[0]) === 1) return 0;
  const wait = Number(reply[1]);
  return wait > 0 ? wait : Number.MIN_VALUE;
}
