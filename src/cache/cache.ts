// createCache: the memory tier (memory-tier.ts) plus getOrLoad's single-flight loads
// (single-flight.ts), stale-while-refresh and refresh-ahead, the optional Redis tier with its
// cross-process lease (redis-tier.ts) and invalidation bus (bus.ts), behind the names that index.ts
// exports.

import { randomUUID } from 'node:crypto';
import { background, type Context, remaining, sleep, withoutCancel } from '../context/index.js';
import {
  assertContext,
  assertFunction,
  assertNumber,
  assertOptions,
  cacheTally,
  describe,
  invalidArg,
  readOption,
} from '../context/internal.js';
import { CircuitBreaker, circuitBreaker } from '../resilience/index.js';
import { type BusMessage, InvalidationBus } from './bus.js';
import {
  type CacheCoalescedEvent,
  type CacheHitEvent,
  type CacheLoadEvent,
  type CacheMissEvent,
  type CacheRedisErrorEvent,
  type CacheStaleEvent,
  coalescedChannel,
  hitChannel,
  loadChannel,
  missChannel,
  type RedisOp,
  redisErrorChannel,
  staleChannel,
  type Tier,
} from './events.js';
import { MemoryTier } from './memory-tier.js';
import {
  type CacheRedisClient,
  jsonSerializer,
  RedisTier,
  RedisTimeoutError,
  type Serializer,
  type WriteOptions,
} from './redis-tier.js';
import { type Flight, SingleFlight } from './single-flight.js';

/** CacheOptions configures createCache. Exactly one of maximumSize and maximumWeight is required. */
export interface CacheOptions<V> {
  /** name appears in errors and in every event. Required, non-empty. */
  readonly name: string;
  /** maximumSize bounds the number of entries (an integer >= 1). */
  readonly maximumSize?: number;
  /** maximumWeight bounds the sum of `weigh(key, value)` over the entries; needs `weigh`. */
  readonly maximumWeight?: number;
  /** weigh returns an entry's weight, a non-negative integer; only with maximumWeight. */
  readonly weigh?: (key: string, value: V) => number;
  /** ttlMs is how long a value stays fresh after it is written. Default: Infinity. */
  readonly ttlMs?: number;
  /** refreshAfterMs: a getOrLoad hit on a value older than this starts a background reload and still returns the value. Default: Infinity (never). */
  readonly refreshAfterMs?: number;
  /** staleMs: for this long after its ttl, getOrLoad serves the old value while a refresh runs. get() never does. Default: 0. */
  readonly staleMs?: number;
  /** loadTimeoutMs bounds every load (its own context's deadline), whoever waits for it. Default: Infinity. */
  readonly loadTimeoutMs?: number;
  /**
   * negativeTtlMs: a loader result of `undefined` ("there is no such value") is cached for this
   * long, in memory and in Redis; 0 caches nothing. Loader errors are never cached. Default: 0.
   */
  readonly negativeTtlMs?: number;
  /**
   * redis is an ioredis client or cluster (optional peer dependency): with it, values are shared
   * by every process using the same Redis and `name` (the name must then have no braces), one
   * process loads a missing key while the others wait (a lease), and Redis failures degrade to
   * the memory tier and the loader without ever failing a caller. Default: memory only.
   */
  readonly redis?: CacheRedisClient;
  /** serializer turns values into Redis strings and back; only with redis. Default: JSON. */
  readonly serializer?: Serializer<V>;
  /** bus: a set or delete on one process evicts the key from every other process's memory tier (Redis pub/sub, one more connection); only with redis. Default: false. */
  readonly bus?: boolean;
  /** redisTimeoutMs bounds each Redis call (and half the first caller's remaining time does too); then the cache goes on without Redis. Default: 100. */
  readonly redisTimeoutMs?: number;
  /** leaseMs is how long one process may hold a key's load lease before another may load it. Default: loadTimeoutMs when finite, else 10,000. */
  readonly leaseMs?: number;
  /**
   * redisBreaker is the circuit breaker (leashjs/resilience) every Redis read of this cache goes
   * through: while it is open loads do not wait for Redis at all (memory tier and loader only);
   * writes, deletes and invalidations are always sent. With the default, a read counts as failed
   * only when it had the whole redisTimeoutMs and got no answer (a Redis that accepts but does not
   * answer); a refused or dropped connection is already skipped at once. `false`: no breaker. Default: circuitBreaker({ failureRate: 0.5, window: { ms: 10_000 }, minimumCalls: 10,
   * openMs: 5_000, halfOpenCalls: 3 }), one per cache; only with redis.
   */
  readonly redisBreaker?: CircuitBreaker | false;
}

/** EntryOptions applies to one value: set() or the value a getOrLoad loader returns. */
export interface EntryOptions {
  /** ttlMs overrides the cache's ttlMs for this value. */
  readonly ttlMs?: number;
  /** tags name groups that deleteByTag(tag) removes at once. */
  readonly tags?: readonly string[];
}

/** CacheStats are counters since the cache was created, and its current size. */
export interface CacheStats {
  readonly hits: number;
  readonly misses: number;
  /** hitRate is hits / (hits + misses), 0 before any lookup. */
  readonly hitRate: number;
  readonly loads: number;
  readonly loadErrors: number;
  readonly loadTimeouts: number;
  readonly loadsAbandoned: number;
  readonly refreshes: number;
  readonly coalesced: number;
  readonly staleServed: number;
  readonly evictions: number;
  readonly expirations: number;
  readonly size: number;
  readonly weight: number;
  /** redisHits: loads answered by the Redis tier (once per load, however many waited for it). */
  readonly redisHits: number;
  /** redisMisses: loads that found nothing in Redis. */
  readonly redisMisses: number;
  /** redisErrors: Redis calls that failed or timed out (callers were answered without Redis). */
  readonly redisErrors: number;
  /** invalidations: keys evicted from memory by another process's message on the bus. */
  readonly invalidations: number;
}

/** Cache is what createCache returns. Every method but getOrLoad is synchronous. */
export interface Cache<V> {
  readonly name: string;
  /**
   * get returns the fresh value for `key` from memory, or undefined. Never loads, never returns a
   * value past its ttl. Throws TypeError LEASH_ERR_INVALID_ARG when `key` is not a string.
   */
  get(key: string): V | undefined;
  /**
   * getOrLoad returns the value for `key`: fresh from memory; else stale within staleMs while a
   * background refresh runs; else from a load that every concurrent caller for `key` shares. The
   * loader runs under its own context (the first caller's values, loadTimeoutMs); each caller stops
   * waiting when its own ctx ends (rejecting with ctx.err); the loader is cancelled only when every
   * caller waiting for it has gone. A loader's rejection reaches every waiter and nothing is stored.
   */
  getOrLoad(
    ctx: Context,
    key: string,
    loader: (ctx: Context) => PromiseLike<V>,
    opts?: EntryOptions,
  ): Promise<V>;
  /** set stores `value`; a load for `key` already running will not overwrite it. */
  set(key: string, value: V, opts?: EntryOptions): void;
  /** delete removes `key`; a load for `key` already running still answers its waiters but stores nothing. */
  delete(key: string): boolean;
  /** deleteByTag removes every value stored with `tag` and keeps running loads tagged so from storing; returns how many values it removed. */
  deleteByTag(tag: string): number;
  /** clear removes every value and keeps every running load from storing. */
  clear(): void;
  /** stats returns a snapshot of the counters. */
  stats(): CacheStats;
  /**
   * flush resolves when every Redis write and bus message started so far has settled (they run in
   * the background of set, delete, deleteByTag, clear and loads) and the bus is subscribed. Never
   * rejects. Immediate without redis.
   */
  flush(): Promise<void>;
  /** close flushes, then unsubscribes the bus (closing its connection); after it the cache no longer uses Redis. The redis client itself is the caller's to close. */
  close(): Promise<void>;
}

const KNOWN = [
  'name',
  'maximumSize',
  'maximumWeight',
  'weigh',
  'ttlMs',
  'refreshAfterMs',
  'staleMs',
  'loadTimeoutMs',
  'negativeTtlMs',
  'redis',
  'serializer',
  'bus',
  'redisTimeoutMs',
  'leaseMs',
  'redisBreaker',
] as const;
const ENTRY_KNOWN = ['ttlMs', 'tags'] as const;

/**
 * createCache builds an in-process cache bounded by W-TinyLFU (entry count or weight), with TTL,
 * refresh-after-write, stale-while-refresh and single-flight loads, and, with `redis`, a shared
 * Redis tier, one load per key across processes and (`bus: true`) cross-process invalidation.
 * Options are checked here: a bad one throws TypeError LEASH_ERR_INVALID_ARG. Without `bus` it
 * holds no timer and no handle: a cache nobody references is garbage. With `bus`, call close().
 * Loads in flight hold what their loaders hold.
 *
 * @example
 * const users = createCache<User>({ name: 'users', maximumSize: 10_000, ttlMs: 60_000, loadTimeoutMs: 2_000 });
 * const user = await users.getOrLoad(ctx, id, (ctx) => db.user(ctx, id));
 */
export function createCache<V>(options: CacheOptions<V>): Cache<V> {
  return createCacheWithClock(options, undefined);
}

/** createCacheWithClock is createCache with an injected monotonic clock, for tests. Not exported from index.ts. */
export function createCacheWithClock<V>(
  options: CacheOptions<V>,
  clock: (() => number) | undefined,
): Cache<V> {
  const where = 'createCache(options)';
  if (options === undefined)
    throw invalidArg(`${where}: options are required, such as { name: 'users', maximumSize: 10_000 }`);
  const o = assertOptions(options, where, KNOWN);
  const name = readOption(o, 'name', where);
  if (typeof name !== 'string' || name === '')
    throw invalidArg(`${where}: name must be a non-empty string, got ${describe(name)}`);
  const maximumSize = readOption(o, 'maximumSize', where);
  const maximumWeight = readOption(o, 'maximumWeight', where);
  const weigh = readOption(o, 'weigh', where);
  if ((maximumSize === undefined) === (maximumWeight === undefined)) {
    throw invalidArg(
      `${where}: give exactly one of maximumSize (an entry count) or maximumWeight (with weigh), got ${maximumSize === undefined ? 'neither' : 'both'}`,
    );
  }
  if (maximumSize !== undefined) {
    assertNumber(maximumSize, where, 'maximumSize', { min: 1, integer: true });
    if (weigh !== undefined) throw invalidArg(`${where}: weigh needs maximumWeight instead of maximumSize`);
  } else {
    assertNumber(maximumWeight, where, 'maximumWeight', { min: 1, integer: true });
    if (weigh === undefined)
      throw invalidArg(`${where}: maximumWeight needs weigh(key, value), the weight of an entry`);
    assertFunction(weigh, where, 'weigh');
  }
  const ttlMs = readOption(o, 'ttlMs', where) ?? Number.POSITIVE_INFINITY;
  assertNumber(ttlMs, where, 'ttlMs', { min: Number.MIN_VALUE, infinite: true, unit: 'milliseconds' });
  const refreshAfterMs = readOption(o, 'refreshAfterMs', where) ?? Number.POSITIVE_INFINITY;
  assertNumber(refreshAfterMs, where, 'refreshAfterMs', {
    min: Number.MIN_VALUE,
    infinite: true,
    unit: 'milliseconds',
  });
  const staleMs = readOption(o, 'staleMs', where) ?? 0;
  assertNumber(staleMs, where, 'staleMs', { min: 0, infinite: true, unit: 'milliseconds' });
  const loadTimeoutMs = readOption(o, 'loadTimeoutMs', where) ?? Number.POSITIVE_INFINITY;
  assertNumber(loadTimeoutMs, where, 'loadTimeoutMs', {
    min: Number.MIN_VALUE,
    infinite: true,
    unit: 'milliseconds',
  });
  const negativeTtlMs = readOption(o, 'negativeTtlMs', where) ?? 0;
  assertNumber(negativeTtlMs, where, 'negativeTtlMs', { min: 0, infinite: true, unit: 'milliseconds' });
  const client = readOption(o, 'redis', where);
  const serializer = readOption(o, 'serializer', where);
  const useBus = readOption(o, 'bus', where);
  const redisTimeoutMs = readOption(o, 'redisTimeoutMs', where);
  const leaseMsOption = readOption(o, 'leaseMs', where);
  const breakerOption = readOption(o, 'redisBreaker', where);
  if (client === undefined) {
    for (const [k, v] of [
      ['serializer', serializer],
      ['bus', useBus],
      ['redisTimeoutMs', redisTimeoutMs],
      ['leaseMs', leaseMsOption],
      ['redisBreaker', breakerOption],
    ] as const) {
      if (v !== undefined) throw invalidArg(`${where}: ${k} needs redis (an ioredis client)`);
    }
  } else {
    const c = client as Partial<CacheRedisClient> | null;
    if (
      c === null ||
      typeof c !== 'object' ||
      typeof c.evalsha !== 'function' ||
      typeof c.eval !== 'function' ||
      typeof c.publish !== 'function'
    ) {
      throw invalidArg(
        `${where}: redis must be an ioredis client or cluster (with evalsha, eval and publish), got ${describe(client)}`,
      );
    }
    if (/[{}]/.test(name))
      throw invalidArg(`${where}: with redis, name must have no braces, got ${describe(name)}`);
    if (
      serializer !== undefined &&
      (serializer === null ||
        typeof serializer !== 'object' ||
        typeof serializer.serialize !== 'function' ||
        typeof serializer.deserialize !== 'function')
    ) {
      throw invalidArg(
        `${where}: serializer must be { serialize(value): string, deserialize(text): value }, got ${describe(serializer)}`,
      );
    }
    if (useBus !== undefined && typeof useBus !== 'boolean')
      throw invalidArg(`${where}: bus must be a boolean, got ${describe(useBus)}`);
    if (useBus === true && typeof c.duplicate !== 'function')
      throw invalidArg(`${where}: bus needs a redis client with duplicate() (an ioredis client or cluster)`);
    if (redisTimeoutMs !== undefined)
      assertNumber(redisTimeoutMs, where, 'redisTimeoutMs', {
        min: Number.MIN_VALUE,
        infinite: true,
        unit: 'milliseconds',
      });
    if (leaseMsOption !== undefined)
      assertNumber(leaseMsOption, where, 'leaseMs', { min: 1, integer: true, unit: 'milliseconds' });
    if (breakerOption !== undefined && breakerOption !== false && !(breakerOption instanceof CircuitBreaker))
      throw invalidArg(
        `${where}: redisBreaker must come from circuitBreaker() (leashjs/resilience) or be false, got ${describe(breakerOption)}`,
      );
  }

  const memory = new MemoryTier<V>({
    maximum: (maximumSize ?? maximumWeight) as number,
    weigh: weigh as ((key: string, value: V) => number) | undefined,
    ttlMs,
    refreshAfterMs,
    staleMs,
    clock,
  });
  let loads = 0;
  let loadErrors = 0;
  let loadTimeouts = 0;
  let loadsAbandoned = 0;
  let refreshes = 0;
  let coalesced = 0;
  let staleServed = 0;
  // Lookups by tier, for leashjs/metrics without an event per lookup (see context/tallies.ts).
  const tally = cacheTally(name);
  let redisHits = 0;
  let redisMisses = 0;
  let redisErrors = 0;
  let invalidations = 0;

  // The Redis tier, when there is one. `redis` becomes undefined at close().
  const timeoutMs = redisTimeoutMs ?? 100;
  const leaseMs =
    leaseMsOption ?? (loadTimeoutMs === Number.POSITIVE_INFINITY ? 10_000 : Math.ceil(loadTimeoutMs));
  let redis: RedisTier<V> | undefined =
    client === undefined
      ? undefined
      : new RedisTier<V>({
          client,
          name,
          serializer: (serializer ?? jsonSerializer) as Serializer<V>,
          leaseMs,
          ttlMs,
          staleMs,
          breaker:
            breakerOption === false
              ? undefined
              : (breakerOption ??
                circuitBreaker({
                  name: `cache ${name} redis`,
                  failureRate: 0.5,
                  window: { ms: 10_000 },
                  minimumCalls: 10,
                  openMs: 5_000,
                  halfOpenCalls: 3,
                  // Only a read that had the whole redisTimeoutMs and still got no answer: a
                  // budget cut short by a caller's near deadline says nothing about Redis.
                  isFailure: (e) => e instanceof RedisTimeoutError && e.ms >= timeoutMs,
                })),
        });
  const pending = new Set<Promise<unknown>>();
  // Fences: the highest version an invalidation announced per key; a value read or loaded before
  // it (an older version) is not stored. Bounded: the oldest fences go first.
  const fences = new Map<string, number>();
  const fenceLimit = Math.max(1024, Math.min(memory.maximum, 100_000));
  const fenceOf = (key: string): number => fences.get(key) ?? 0;
  function raiseFence(key: string, version: number): void {
    if (fenceOf(key) >= version) return;
    fences.delete(key);
    fences.set(key, version);
    if (fences.size > fenceLimit) fences.delete(fences.keys().next().value as string);
  }
  function track(p: Promise<unknown>): void {
    const t: Promise<unknown> = p.then(
      () => pending.delete(t),
      () => pending.delete(t),
    );
    pending.add(t);
  }
  function degraded(op: RedisOp, key: string | undefined, error: unknown): void {
    redisErrors++;
    if (redisErrorChannel.hasSubscribers)
      redisErrorChannel.publish(Object.freeze({ name, key, op, error } satisfies CacheRedisErrorEvent));
  }
  /**
   * inBackground follows a Redis call nobody waits for: flush() waits for it, `onOk` gets its
   * result, and a failure is counted and published (degraded), never thrown.
   */
  function inBackground<T>(op: RedisOp, key: string | undefined, p: Promise<T>, onOk?: (v: T) => void): void {
    track(p.then(onOk, (e: unknown) => degraded(op, key, e)));
  }

  let bus: InvalidationBus | undefined;
  function publish(m: Parameters<InvalidationBus['encode']>[0]): void {
    const b = bus;
    const r = redis;
    if (b === undefined || r === undefined) return;
    let p: Promise<void>;
    try {
      p = r.publish(background(), b.channel, b.encode(m), timeoutMs);
    } catch (e) {
      degraded('publish', 'k' in m ? m.k : undefined, e);
      return;
    }
    inBackground('publish', 'k' in m ? m.k : undefined, p);
  }
  if (client !== undefined && useBus === true) {
    bus = new InvalidationBus(client, name, {
      message(m: BusMessage) {
        if (m.op === 'clear') {
          flights.detachAll();
          invalidations += memory.size;
          memory.clear();
        } else if (m.op === 'tag') {
          if (typeof m.t !== 'string') return;
          flights.detachTag(m.t);
          invalidations += memory.deleteByTag(m.t).length;
        } else if ((m.op === 'set' || m.op === 'del') && typeof m.k === 'string' && typeof m.v === 'number') {
          // Late or repeated: we hold that version or a newer one, or a fence already covers it.
          const e = memory.peek(m.k);
          if ((e !== undefined && e.version >= m.v) || fenceOf(m.k) >= m.v) return;
          // The fence, not a detach, keeps a running load from storing what it read before this
          // version: a read that already sees this version may still store.
          raiseFence(m.k, m.v);
          if (memory.delete(m.k)) invalidations++;
        }
      },
      resubscribed() {
        // Messages sent while the subscriber was away are lost: read everything again.
        flights.detachAll();
        memory.clear();
      },
      error(e) {
        degraded('subscribe', undefined, e);
      },
    });
  }

  /** LoadMeta is what a load learnt on its way, for store(). */
  interface LoadMeta {
    ttlMs: number | undefined;
    /** version of the value in Redis (0: not known). */
    version: number;
    /** observed is the version Redis had when the load found the key missing; undefined when Redis was not read. */
    observed: number | undefined;
    fromRedis: boolean;
    entry: ReturnType<MemoryTier<V>['set']>;
    /** staleRefresh starts the refresh of a stale value Redis served, once it is stored. */
    staleRefresh?: (() => void) | undefined;
  }
  type TieredFlight = Flight<V> & { meta?: LoadMeta };

  const flights: SingleFlight<V> = new SingleFlight<V>(name, loadTimeoutMs, {
    store(flight: TieredFlight, value: V): void {
      const m = flight.meta;
      let ttl = m?.ttlMs;
      if (value === undefined && m?.fromRedis !== true) {
        if (negativeTtlMs === 0) return;
        ttl = negativeTtlMs;
      }
      if (m !== undefined) {
        // An invalidation newer than what this load saw came while it ran: do not store old data.
        if (fenceOf(flight.key) > (m.fromRedis ? m.version : (m.observed ?? 0))) return;
        m.entry = memory.set(flight.key, value, ttl, flight.tags, m.version);
      } else {
        memory.set(flight.key, value, ttl, flight.tags);
      }
    },
    settled(flight: TieredFlight, outcome, durationMs, error): void {
      const refresh = flight.meta?.staleRefresh;
      if (
        refresh !== undefined &&
        outcome === 'ok' &&
        !flight.detached &&
        flights.get(flight.key) === undefined
      )
        refresh();
      if (outcome === 'error') loadErrors++;
      else if (outcome === 'timeout') loadTimeouts++;
      else if (outcome === 'abandoned') loadsAbandoned++;
      if (loadChannel.hasSubscribers) {
        loadChannel.publish(
          Object.freeze({
            name,
            key: flight.key,
            durationMs,
            outcome,
            refresh: flight.refresh,
            error: outcome === 'error' ? error : undefined,
          } satisfies CacheLoadEvent),
        );
      }
    },
  });

  /** budget is how long one Redis call may take for a load started by `ctx`: redisTimeoutMs, and at most half of ctx's remaining time, so that the loader keeps the other half. */
  function budget(ctx: Context): number {
    // remaining() reads the monotonic clock (Infinity without a deadline): a wall-clock step changes nothing.
    return Math.min(timeoutMs, Math.max(1, remaining(ctx) / 2));
  }

  /**
   * tiered wraps `loader` for a cache with a Redis tier: read Redis (taking the key's lease when
   * it is missing); if another process holds the lease, wait for its value (or for the lease to
   * go) within the load's context; else run the loader and write its result back in the
   * background. Any Redis failure: run the loader (the stale value, if any, is already served).
   */
  function tiered(
    ctx: Context,
    key: string,
    loader: (ctx: Context) => PromiseLike<V>,
    entry: { ttlMs?: number | undefined; tags?: readonly string[] | undefined },
    meta: LoadMeta,
    ahead: boolean,
    refresh: boolean,
    r: RedisTier<V>,
  ): (loadCtx: Context) => Promise<V> {
    return async (loadCtx) => {
      const token = ahead ? '' : randomUUID();
      let leased = false;
      if (ahead) {
        // Refresh-ahead: Redis holds the value being refreshed; load, then write it over that version only.
        const held = memory.peek(key);
        meta.observed = held !== undefined && held.version > 0 ? held.version : undefined;
      } else {
        // A lease held by another process is waited for until it ends, or until half of the first
        // caller's remaining time is gone: then this process loads too (a holder that died after
        // taking it must not fail our callers for leaseMs).
        const waitUntil = performance.now() + remaining(ctx) / 2;
        let delay = 2;
        for (;;) {
          let found: Awaited<ReturnType<RedisTier<V>['read']>>;
          try {
            // A refresh answers nobody in particular: its Redis calls get the whole budget.
            found = await r.read(loadCtx, key, token, refresh ? timeoutMs : budget(ctx));
          } catch (e) {
            if (loadCtx.err !== undefined) throw loadCtx.err;
            degraded(e instanceof SyntaxError ? 'deserialize' : 'read', key, e);
            meta.observed = undefined;
            break;
          }
          if (found.found && found.ttlMs <= 0) {
            // Past its ttl in Redis, within its staleMs. A refresh loads over that version; a
            // caller is served the stale value at once, and one refresh starts once it is stored.
            if (refresh) {
              meta.observed = found.version;
              break;
            }
            redisHits++;
            staleServed++;
            hit(key, 'redis');
            if (staleChannel.hasSubscribers) {
              staleChannel.publish(
                Object.freeze({ name, key, staleForMs: -found.ttlMs } satisfies CacheStaleEvent),
              );
            }
            meta.fromRedis = true;
            meta.version = found.version;
            // Stored as already expired, retained for the stale time it has left in Redis.
            meta.ttlMs = found.ttlMs;
            // The refresh has the caller's values, not its deadline (see budget below).
            meta.staleRefresh = () => startLoad(withoutCancel(ctx), key, loader, entry, true);
            return found.value;
          }
          if (found.found) {
            redisHits++;
            meta.fromRedis = true;
            meta.version = found.version;
            meta.ttlMs = found.ttlMs;
            hit(key, 'redis');
            return found.value;
          }
          meta.observed = found.version;
          if (found.leased) {
            leased = true;
            redisMisses++;
            miss(key, 'redis');
            break;
          }
          // Another process is loading it: wait for its value, or for its lease to end.
          if (performance.now() + delay >= waitUntil) break;
          await sleep(loadCtx, delay);
          delay = Math.min(delay * 2, 50);
        }
      }
      let value: V;
      try {
        value = await loader(loadCtx);
      } catch (e) {
        if (leased) inBackground('release', key, r.release(background(), key, token, timeoutMs));
        throw e;
      }
      if (meta.observed === undefined && !ahead) return value; // Redis was not there: memory only
      if (value === undefined && negativeTtlMs === 0) {
        if (leased) inBackground('release', key, r.release(background(), key, token, timeoutMs));
        return value;
      }
      const ttl = value === undefined ? negativeTtlMs : (entry.ttlMs ?? ttlMs);
      writeBack(
        r,
        key,
        value,
        { ttlMs: ttl, expected: meta.observed, token: leased ? token : '', tags: entry.tags },
        (version) => {
          const e = meta.entry;
          const current = memory.peek(key) === e && e !== undefined && e.value === value;
          if (version === undefined) {
            // The key changed in Redis while we loaded: our value is not the latest.
            if (current) memory.delete(key);
            return;
          }
          if (current) e.version = version;
          publish({ op: 'set', k: key, v: version });
        },
      );
      return value;
    };
  }

  function startLoad(
    ctx: Context,
    key: string,
    loader: (ctx: Context) => PromiseLike<V>,
    entry: { ttlMs?: number | undefined; tags?: readonly string[] | undefined },
    refresh: boolean,
    ahead = false,
  ): Flight<V> {
    loads++;
    if (refresh) refreshes++;
    const r = redis;
    if (r === undefined) {
      const f = flights.start(ctx, key, loader, entry.tags, refresh) as TieredFlight;
      if (entry.ttlMs !== undefined) f.meta = metaOf(entry.ttlMs);
      return f;
    }
    const meta = metaOf(entry.ttlMs);
    const f = flights.start(
      ctx,
      key,
      tiered(ctx, key, loader, entry, meta, ahead, refresh, r),
      entry.tags,
      refresh,
    ) as TieredFlight;
    f.meta = meta;
    return f;
  }

  // hit and miss count a lookup and publish it when someone listens. The publishing is a function
  // of its own: get() and what it calls must stay small enough for V8 to inline into the caller.
  function hit(key: string, tier: Tier = 'memory'): void {
    if (tier === 'memory') tally.memoryHit++;
    else tally.redisHit++;
    if (hitChannel.hasSubscribers) publishHit(key, tier);
  }
  function miss(key: string, tier: Tier = 'memory'): void {
    if (tier === 'memory') tally.memoryMiss++;
    else tally.redisMiss++;
    if (missChannel.hasSubscribers) publishMiss(key, tier);
  }
  function publishHit(key: string, tier: Tier): void {
    hitChannel.publish(Object.freeze({ name, key, tier } satisfies CacheHitEvent));
  }
  function publishMiss(key: string, tier: Tier): void {
    missChannel.publish(Object.freeze({ name, key, tier } satisfies CacheMissEvent));
  }

  /**
   * invalidateRedis moves the epoch of `tag` (undefined: the clear epoch) in Redis, so that values
   * of it no process holds in memory are not read back either, then tells the other processes'
   * memory tiers on the bus (also when the epoch could not be moved: their memory must go).
   */
  function invalidateRedis(
    tag: string | undefined,
    message: { op: 'tag'; t: string } | { op: 'clear' },
  ): void {
    const r = redis;
    if (r === undefined) return;
    inBackground(
      'invalidate',
      undefined,
      r.invalidate(background(), tag, timeoutMs).finally(() => publish(message)),
    );
  }

  /** writeBack writes `value` to Redis in the background (see inBackground), then `onOk` gets its version. */
  function writeBack(
    r: RedisTier<V>,
    key: string,
    value: V,
    w: WriteOptions,
    onOk: (version: number | undefined) => void,
  ): void {
    inBackground('write', key, r.write(background(), key, value, w, timeoutMs), onOk);
  }

  function redisDelete(key: string): void {
    const r = redis;
    if (r === undefined) return;
    inBackground('delete', key, r.delete(background(), key, timeoutMs), (version) => {
      raiseFence(key, version);
      publish({ op: 'del', k: key, v: version });
    });
  }

  async function flush(): Promise<void> {
    if (bus !== undefined) await bus.subscribed;
    while (pending.size > 0) await Promise.all([...pending]);
  }

  return {
    name,
    get(key) {
      const v = memory.get(key);
      if (v !== undefined) {
        hit(key);
        return v;
      }
      // A key that is not a string is never stored, so it always misses: it is checked here, on
      // the miss path, and a hit pays nothing for the check. The memory tier has counted the
      // lookup as a miss; a call that throws counts nothing.
      if (typeof key !== 'string') {
        memory.misses--;
        throw invalidArg(`${name}.get(key): key must be a string, got ${describe(key)}`);
      }
      miss(key);
      return undefined;
    },

    getOrLoad(ctx, key, loader, opts) {
      // Bad arguments throw synchronously, as everywhere in leash; everything after is a promise.
      const where = `${name}.getOrLoad(ctx, key, loader, opts)`;
      assertContext(ctx, where);
      assertKey(key, where);
      assertFunction(loader, where, 'loader');
      const entry = entryOptions(opts, where);
      if (ctx.err !== undefined) return Promise.reject(ctx.err);
      const now = memory.clock();
      const e = memory.lookup(key, now);
      if (e !== undefined) {
        if (now < e.expiresAt) {
          hit(key);
          if (now >= e.refreshAt && flights.get(key) === undefined)
            startLoad(ctx, key, loader, entry, true, true);
          return Promise.resolve(e.value);
        }
        // Past its ttl, within staleMs: serve it while one refresh runs.
        staleServed++;
        if (staleChannel.hasSubscribers) {
          staleChannel.publish(
            Object.freeze({ name, key, staleForMs: now - e.expiresAt } satisfies CacheStaleEvent),
          );
        }
        if (flights.get(key) === undefined) startLoad(ctx, key, loader, entry, true);
        return Promise.resolve(e.value);
      }
      miss(key);
      let flight = flights.get(key);
      if (flight !== undefined) {
        coalesced++;
        if (coalescedChannel.hasSubscribers) {
          coalescedChannel.publish(
            Object.freeze({ name, key, waiters: flight.waiters + 1 } satisfies CacheCoalescedEvent),
          );
        }
      } else {
        flight = startLoad(ctx, key, loader, entry, false);
      }
      return flights.wait(ctx, flight);
    },

    set(key, value, opts) {
      const where = `${name}.set(key, value, opts)`;
      assertKey(key, where);
      const entry = entryOptions(opts, where);
      flights.detach(key);
      const e = memory.set(key, value, entry.ttlMs, entry.tags);
      const r = redis;
      if (r === undefined) return;
      writeBack(r, key, value, { ttlMs: entry.ttlMs ?? ttlMs, tags: entry.tags }, (version) => {
        if (version === undefined) return;
        if (e !== undefined && memory.peek(key) === e && e.value === value && e.version === 0)
          e.version = version;
        publish({ op: 'set', k: key, v: version });
      });
    },

    delete(key) {
      assertKey(key, `${name}.delete(key)`);
      flights.detach(key);
      const had = memory.delete(key);
      redisDelete(key);
      return had;
    },

    deleteByTag(tag) {
      if (typeof tag !== 'string')
        throw invalidArg(`${name}.deleteByTag(tag): tag must be a string, got ${describe(tag)}`);
      flights.detachTag(tag);
      const keys = memory.deleteByTag(tag);
      for (const k of keys) redisDelete(k);
      invalidateRedis(tag, { op: 'tag', t: tag });
      return keys.length;
    },

    clear() {
      flights.detachAll();
      memory.clear();
      invalidateRedis(undefined, { op: 'clear' });
    },

    stats() {
      const lookups = memory.hits + memory.misses;
      return Object.freeze({
        hits: memory.hits,
        misses: memory.misses,
        hitRate: lookups === 0 ? 0 : memory.hits / lookups,
        loads,
        loadErrors,
        loadTimeouts,
        loadsAbandoned,
        refreshes,
        coalesced,
        staleServed,
        evictions: memory.evictions,
        expirations: memory.expirations,
        size: memory.size,
        weight: memory.weight,
        redisHits,
        redisMisses,
        redisErrors,
        invalidations,
      });
    },

    flush,

    async close() {
      await flush();
      const b = bus;
      bus = undefined;
      redis = undefined;
      if (b !== undefined) await b.close();
    },
  };
}

function metaOf(ttlMs: number | undefined): {
  ttlMs: number | undefined;
  version: number;
  observed: number | undefined;
  fromRedis: boolean;
  entry: undefined;
} {
  return { ttlMs, version: 0, observed: undefined, fromRedis: false, entry: undefined };
}

function assertKey(key: unknown, where: string): asserts key is string {
  if (typeof key !== 'string') throw invalidArg(`${where}: key must be a string, got ${describe(key)}`);
}

function entryOptions(
  opts: EntryOptions | undefined,
  where: string,
): { ttlMs: number | undefined; tags: readonly string[] | undefined } {
  if (opts === undefined) return { ttlMs: undefined, tags: undefined };
  const o = assertOptions(opts, where, ENTRY_KNOWN);
  const ttlMs = readOption(o, 'ttlMs', where);
  if (ttlMs !== undefined)
    assertNumber(ttlMs, where, 'ttlMs', { min: Number.MIN_VALUE, infinite: true, unit: 'milliseconds' });
  const tags = readOption(o, 'tags', where);
  if (tags !== undefined && (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string'))) {
    throw invalidArg(`${where}: tags must be an array of strings, got ${describe(tags)}`);
  }
  return { ttlMs, tags: tags === undefined ? undefined : Object.freeze([...tags]) };
}
