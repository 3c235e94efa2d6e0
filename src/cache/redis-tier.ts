// The Redis tier: values shared by every process that uses the same Redis and cache name, each
// with a version that only grows, and a short lease that lets one process load a missing key while
// the others wait for its value.
//
// One Redis hash per key, `leash:cache:{<name>:<key>}` (the braces are a hash tag: every Redis key
// of one cache key lands in one Cluster slot, so each script touches one slot), with fields
// `d` (the serialised value), `u` (present for a cached "absent": negative caching), `v` (the
// version), `t` (the value's tags, as JSON, when it has any) and `s` (its staleMs: Redis keeps a
// value for ttl + staleMs, and serves it as stale in its last staleMs, to processes that never
// held it too). The lease is the string `leash:cache:{<name>:<key>}:lease`, holding a random token,
// set with SET NX PX. Every write and delete runs in one script that sets the version to
// max(old + 1, the Redis server's clock in microseconds): it grows with every change of a key,
// also across a delete and the expiry of the hash (a delete leaves a tombstone, the hash with `v`
// only, for TOMBSTONE_MS; after that, the clock has moved past every version it held). A load's
// write is conditional on the version it saw when it found the key missing, so a load that raced
// a set or a delete does not overwrite it.
//
// deleteByTag and clear reach values no process holds in memory through epochs: the strings
// `leash:cache:{<name>}:tag:<tag>` and `leash:cache:{<name>}:clear` hold the Redis clock (µs) of
// the last deleteByTag(tag) and clear(). A value found in Redis whose version is not above the
// clear epoch and the epochs of its tags was written before them: it is dropped (a tombstone, as a
// delete leaves) and read as missing. Epochs share the cache's hash tag, so one script reads them
// all; on a Cluster they live on another node than most values, whose clocks may differ by the
// nodes' clock skew, which bounds how long before a deleteByTag a value may have been written and
// still survive it there.
//
// Every call is bounded by a budget (redisTimeoutMs and the caller's remaining time) and by the
// loader's context; a client that is not connected (ioredis `status` other than 'ready') is not
// asked at all. The cache treats every failure here as "Redis is not there": callers never see it.

import { abortable, type Context, withTimeout } from '../context/index.js';
import { evalScript, type LuaScript, luaScript } from '../context/internal.js';
import type { CircuitBreaker } from '../resilience/index.js';

/**
 * CacheRedisClient is the part of an ioredis client (Redis or Cluster) the cache uses; any client
 * with these methods works. `duplicate` is needed only with `bus: true`, for the subscriber.
 */
export interface CacheRedisClient {
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  publish(channel: string, message: string): Promise<unknown>;
  duplicate?(): CacheRedisSubscriber;
  /** status is ioredis's connection state; when present and not 'ready', the cache does not wait for Redis. */
  readonly status?: string;
}

/** CacheRedisSubscriber is the part of an ioredis connection the invalidation bus subscribes with. */
export interface CacheRedisSubscriber {
  subscribe(channel: string): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  disconnect(): void;
}

/** Serializer turns values into the strings stored in Redis and back. Default: JSON. */
export interface Serializer<V> {
  serialize(value: V): string;
  deserialize(text: string): V;
}

/** TOMBSTONE_MS is how long a deleted key keeps its version in Redis. */
const TOMBSTONE_MS = 60_000;

const NEXT_VERSION = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cur = tonumber(redis.call('HGET', KEYS[1], 'v')) or 0
local nv = math.max(cur + 1, now)
`;

// KEYS: hash, lease. ARGV: token ('' = do not take the lease), leaseMs.
// Returns {found, data, negative, version, pttl | leased, tags ('' = none), staleMs}.
const READ = luaScript(`
local h = redis.call('HMGET', KEYS[1], 'd', 'u', 'v', 't', 's')
local v = h[3] or '0'
if h[1] or h[2] then
  return {1, h[1] or '', h[2] and 1 or 0, v, redis.call('PTTL', KEYS[1]), h[4] or '', tonumber(h[5]) or 0}
end
if ARGV[1] ~= '' and redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {0, '', 0, v, 1}
end
return {0, '', 0, v, 0}
`);

// KEYS: hash, lease. ARGV: data, negative ('1'/'0'), pttl ('' = none), expected version ('' = any), token,
// tags (JSON, '' = none), staleMs (included in pttl). Returns {written, version}.
const WRITE = luaScript(`
if ARGV[5] ~= '' and redis.call('GET', KEYS[2]) == ARGV[5] then redis.call('DEL', KEYS[2]) end
${NEXT_VERSION}
if ARGV[4] ~= '' and cur ~= tonumber(ARGV[4]) then return {0, string.format('%.0f', cur)} end
redis.call('DEL', KEYS[1])
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'u', '1', 'v', string.format('%.0f', nv))
else
  redis.call('HSET', KEYS[1], 'd', ARGV[1], 'v', string.format('%.0f', nv))
end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 't', ARGV[6]) end
if ARGV[7] ~= '0' then redis.call('HSET', KEYS[1], 's', ARGV[7]) end
if ARGV[3] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {1, string.format('%.0f', nv)}
`);

// KEYS: hash. ARGV: tombstone ms. Returns the new version.
const DELETE = luaScript(`
${NEXT_VERSION}
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', string.format('%.0f', nv))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return string.format('%.0f', nv)
`);

// KEYS: hash, lease. ARGV: version, token ('' = do not take the lease), leaseMs, tombstone ms.
// Drops a value an epoch made stale, unless it changed since it was read. Returns {version, leased}.
const DROP = luaScript(`
${NEXT_VERSION}
if string.format('%.0f', cur) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'v', string.format('%.0f', nv))
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  cur = nv
end
local leased = 0
if ARGV[2] ~= '' and redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then leased = 1 end
return {string.format('%.0f', cur), leased}
`);

// KEYS: epoch keys (clear, then tags). Returns the highest epoch, '0' when none is set.
const EPOCHS = luaScript(`
local m = 0
for _, k in ipairs(KEYS) do
  local e = tonumber(redis.call('GET', k)) or 0
  if e > m then m = e end
end
return string.format('%.0f', m)
`);

// KEYS: epoch key. ARGV: pttl ('' = none). Moves the epoch to the Redis clock (µs), never back.
const MARK = luaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cur = tonumber(redis.call('GET', KEYS[1])) or 0
local e = string.format('%.0f', math.max(cur + 1, now))
if ARGV[1] ~= '' then redis.call('SET', KEYS[1], e, 'PX', ARGV[1]) else redis.call('SET', KEYS[1], e) end
return e
`);

// KEYS: lease. ARGV: token.
const RELEASE = luaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** RedisDownError says the client is not connected; the cache did not wait for it. */
export class RedisDownError extends Error {
  constructor(status: string) {
    super(`the Redis client is not ready (status ${status})`);
    this.name = 'RedisDownError';
  }
}

/** RedisTimeoutError says Redis did not answer within the budget. */
export class RedisTimeoutError extends Error {
  /** ms is the budget the call had. */
  readonly ms: number;
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
    this.name = 'RedisTimeoutError';
    this.ms = ms;
  }
}

/**
 * ReadResult is what read() found: a value (with its version and the time it stays fresh: at most
 * 0 when it is stale, within its staleMs), or a miss and whether this caller now holds the lease.
 */
export type ReadResult<V> =
  | { readonly found: true; readonly value: V; readonly version: number; readonly ttlMs: number }
  | { readonly found: false; readonly version: number; readonly leased: boolean };

/** RedisTierOptions are the cache's settings the Redis tier needs. */
export interface RedisTierOptions<V> {
  readonly client: CacheRedisClient;
  readonly name: string;
  readonly serializer: Serializer<V>;
  readonly leaseMs: number;
  /** ttlMs and staleMs are the cache's: a value is kept ttl + staleMs, an epoch at least as long. */
  readonly ttlMs: number;
  readonly staleMs: number;
  /** breaker guards reads (undefined: none). */
  readonly breaker: CircuitBreaker | undefined;
}

/** WriteOptions say how write() stores one value. */
export interface WriteOptions {
  /** ttlMs is the value's ttl (Infinity: none); Redis keeps it staleMs longer, unless it is negative. */
  readonly ttlMs: number;
  /** expected: write only if the key's version is still this one (undefined: whatever it is). */
  readonly expected?: number | undefined;
  /** token releases the lease this caller holds ('' or undefined: none). */
  readonly token?: string | undefined;
  readonly tags?: readonly string[] | undefined;
}

/** RedisTier talks to Redis for one cache. Not a public export. */
export class RedisTier<V> {
  readonly #client: CacheRedisClient;
  readonly #prefix: string;
  readonly #serializer: Serializer<V>;
  readonly #leaseMs: number;
  readonly #epochPrefix: string;
  readonly #epochTtl: string;
  readonly #staleMs: number;
  readonly #breaker: CircuitBreaker | undefined;

  constructor(o: RedisTierOptions<V>) {
    this.#client = o.client;
    this.#prefix = `leash:cache:{${o.name}:`;
    this.#epochPrefix = `leash:cache:{${o.name}}:`;
    this.#serializer = o.serializer;
    this.#leaseMs = o.leaseMs;
    this.#breaker = o.breaker;
    // An endless staleMs is not kept in Redis (the value would never expire there): ttl only.
    this.#staleMs = Number.isFinite(o.staleMs) ? Math.ceil(o.staleMs) : 0;
    // An epoch must outlive the values written before it: the cache's ttl and stale time, and at
    // least a day (a per-entry ttlMs longer than both outlives it); for ever without a ttl.
    this.#epochTtl =
      o.ttlMs === Number.POSITIVE_INFINITY
        ? ''
        : String(Math.ceil(Math.max(o.ttlMs + this.#staleMs, 86_400_000)));
  }

  /** epochKey is the Redis key of the clear epoch (no tag) or of `tag`'s epoch. */
  epochKey(tag?: string): string {
    return tag === undefined ? `${this.#epochPrefix}clear` : `${this.#epochPrefix}tag:${tag}`;
  }

  /** key is the Redis key of `key`'s hash; its lease is key + ':lease'. */
  key(key: string): string {
    return `${this.#prefix}${key}}`;
  }

  /**
   * read looks `key` up; with a token and no value, it also tries to take the lease. A value older
   * than the last clear() or deleteByTag() of one of its tags is dropped and read as missing.
   */
  async read(ctx: Context, key: string, token: string, budgetMs: number): Promise<ReadResult<V>> {
    // The breaker guards reads only, the waits a load would pay for a Redis that does not answer;
    // writes, deletes and invalidations are always sent, so none is lost while it is open.
    if (this.#breaker === undefined) return this.#read(ctx, key, token, budgetMs);
    return this.#breaker.execute(ctx, (c) => this.#read(c, key, token, budgetMs));
  }

  async #read(ctx: Context, key: string, token: string, budgetMs: number): Promise<ReadResult<V>> {
    const k = this.key(key);
    // One budget for the whole read: the value, then its epochs, then maybe the drop.
    const started = performance.now();
    const left = () => Math.max(1, budgetMs - (performance.now() - started));
    const r = (await this.#call(ctx, budgetMs, READ, [k, `${k}:lease`], [token, this.#leaseMs])) as [
      number,
      string,
      number,
      string,
      number,
      string,
      number,
    ];
    let version = Number(r[3]);
    if (r[0] !== 1) return { found: false, version, leased: r[4] === 1 };
    const epochKeys = [this.epochKey()];
    if (r[5] !== '') for (const tag of JSON.parse(r[5]) as string[]) epochKeys.push(this.epochKey(tag));
    const epoch = Number(await this.#call(ctx, left(), EPOCHS, epochKeys, []));
    if (version <= epoch) {
      const d = (await this.#call(
        ctx,
        left(),
        DROP,
        [k, `${k}:lease`],
        [r[3], token, this.#leaseMs, TOMBSTONE_MS],
        true,
      )) as [string, number];
      version = Number(d[0]);
      return { found: false, version, leased: d[1] === 1 };
    }
    const value = r[2] === 1 ? (undefined as V) : this.#serializer.deserialize(r[1]);
    // Kept for ttl + staleMs: fresh for pttl - staleMs more (at most 0: stale).
    return { found: true, value, version, ttlMs: r[4] > 0 ? r[4] - r[6] : Number.POSITIVE_INFINITY };
  }

  /**
   * write stores `value` (undefined: a negative entry, kept without stale time) for `w.ttlMs`, only
   * if the key's version is still `w.expected` (when given), and releases the lease `w.token`
   * holds. Resolves to the new version, or to undefined when the version had moved (nothing
   * written).
   */
  async write(
    ctx: Context,
    key: string,
    value: V,
    w: WriteOptions,
    budgetMs: number,
  ): Promise<number | undefined> {
    const k = this.key(key);
    const negative = value === undefined;
    const data = negative ? '' : this.#serializer.serialize(value);
    if (typeof data !== 'string')
      throw new TypeError(`serializer.serialize returned ${typeof data}, not a string`);
    const { ttlMs, expected, token = '', tags } = w;
    const stale = ttlMs === Number.POSITIVE_INFINITY || negative ? 0 : this.#staleMs;
    const pttl = ttlMs === Number.POSITIVE_INFINITY ? '' : String(Math.max(1, Math.ceil(ttlMs)) + stale);
    const r = (await this.#call(
      ctx,
      budgetMs,
      WRITE,
      [k, `${k}:lease`],
      [
        data,
        negative ? '1' : '0',
        pttl,
        expected === undefined ? '' : String(expected),
        token,
        tags === undefined || tags.length === 0 ? '' : JSON.stringify(tags),
        String(stale),
      ],
      true,
    )) as [number, string];
    return r[0] === 1 ? Number(r[1]) : undefined;
  }

  /** delete removes `key`'s value, leaving its raised version as a tombstone; resolves to that version. */
  async delete(ctx: Context, key: string, budgetMs: number): Promise<number> {
    return Number(await this.#call(ctx, budgetMs, DELETE, [this.key(key)], [TOMBSTONE_MS], true));
  }

  /**
   * invalidate moves the epoch of `tag` (or, without one, the clear epoch) to now: every value of
   * that tag (or every value) written before it is read as missing from then on, by any process.
   */
  async invalidate(ctx: Context, tag: string | undefined, budgetMs: number): Promise<void> {
    await this.#call(ctx, budgetMs, MARK, [this.epochKey(tag)], [this.#epochTtl], true);
  }

  /** release gives the lease back when its holder's load failed, so the waiting processes need not wait for it to expire. */
  async release(ctx: Context, key: string, token: string, budgetMs: number): Promise<void> {
    await this.#call(ctx, budgetMs, RELEASE, [`${this.key(key)}:lease`], [token], true);
  }

  /** publish sends `message` on `channel` through the command connection. */
  async publish(ctx: Context, channel: string, message: string, budgetMs: number): Promise<void> {
    this.#ready();
    await this.#bounded(ctx, budgetMs, this.#client.publish(channel, message));
  }

  #ready(): void {
    const status = this.#client.status;
    if (status !== undefined && status !== 'ready') throw new RedisDownError(status);
  }

  // Writes go out with EVAL, sent at once in call order, so that a delete issued before a read
  // reaches Redis before it on the same connection; reads use EVALSHA and fall back on NOSCRIPT.
  #call(
    ctx: Context,
    budgetMs: number,
    script: LuaScript,
    keys: string[],
    args: (string | number)[],
    inOrder = false,
  ): Promise<unknown> {
    this.#ready();
    const c = this.#client;
    if (inOrder) return this.#bounded(ctx, budgetMs, c.eval(script.src, keys.length, ...keys, ...args));
    return this.#bounded(ctx, budgetMs, evalScript(c, script, keys, args));
  }

  #bounded<T>(ctx: Context, budgetMs: number, work: Promise<T>): Promise<T> {
    work.catch(() => {}); // a late rejection after the budget is nobody's business
    if (budgetMs === Number.POSITIVE_INFINITY) return abortable(ctx, work);
    const [bounded, cancel] = withTimeout(ctx, budgetMs);
    return abortable(bounded, work).then(
      (v) => {
        cancel();
        return v;
      },
      (e: unknown) => {
        cancel();
        if (ctx.err !== undefined) throw ctx.err;
        if (e === bounded.err) throw new RedisTimeoutError(budgetMs);
        throw e;
      },
    );
  }
}

/** jsonSerializer is the default Serializer: JSON.stringify and JSON.parse. */
export const jsonSerializer: Serializer<never> = Object.freeze({
  serialize: (v: unknown) => JSON.stringify(v),
  deserialize: (s: string) => JSON.parse(s) as never,
});
