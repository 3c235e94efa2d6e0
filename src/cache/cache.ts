// createCache: the memory tier (memory-tier.ts) plus getOrLoad's single-flight loads
// (single-flight.ts), stale-while-refresh and refresh-ahead, behind the names that index.ts exports.

import type { Context } from '../context/index.js';
import {
  assertContext,
  assertFunction,
  assertNumber,
  assertOptions,
  describe,
  invalidArg,
  readOption,
} from '../context/internal.js';
import {
  type CacheCoalescedEvent,
  type CacheHitEvent,
  type CacheLoadEvent,
  type CacheMissEvent,
  type CacheStaleEvent,
  coalescedChannel,
  hitChannel,
  loadChannel,
  missChannel,
  staleChannel,
} from './events.js';
import { MemoryTier } from './memory-tier.js';
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
}

/** Cache is what createCache returns. Every method but getOrLoad is synchronous. */
export interface Cache<V> {
  readonly name: string;
  /** get returns the fresh value for `key` from memory, or undefined. Never loads, never returns a value past its ttl. */
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
] as const;
const ENTRY_KNOWN = ['ttlMs', 'tags'] as const;

/**
 * createCache builds an in-process cache bounded by W-TinyLFU (entry count or weight), with TTL,
 * refresh-after-write, stale-while-refresh and single-flight loads. Options are checked here:
 * a bad one throws TypeError LEASH_ERR_INVALID_ARG. Holds no timer and no handle: a cache nobody
 * references is garbage, with nothing to close. Loads in flight hold what their loaders hold.
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

  const flights = new SingleFlight<V>(name, loadTimeoutMs, {
    store(flight: Flight<V> & { ttlMs?: number }, value: V): void {
      memory.set(flight.key, value, flight.ttlMs, flight.tags);
    },
    settled(flight, outcome, durationMs, error): void {
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

  function startLoad(
    ctx: Context,
    key: string,
    loader: (ctx: Context) => PromiseLike<V>,
    entry: { ttlMs?: number | undefined; tags?: readonly string[] | undefined },
    refresh: boolean,
  ): Flight<V> {
    loads++;
    if (refresh) refreshes++;
    const f = flights.start(ctx, key, loader, entry.tags, refresh) as Flight<V> & { ttlMs?: number };
    if (entry.ttlMs !== undefined) f.ttlMs = entry.ttlMs;
    return f;
  }

  function hit(key: string): void {
    if (hitChannel.hasSubscribers)
      hitChannel.publish(Object.freeze({ name, key, tier: 'memory' } satisfies CacheHitEvent));
  }
  function miss(key: string): void {
    if (missChannel.hasSubscribers)
      missChannel.publish(Object.freeze({ name, key, tier: 'memory' } satisfies CacheMissEvent));
  }

  return {
    name,
    get(key) {
      const v = memory.get(key);
      if (hitChannel.hasSubscribers || missChannel.hasSubscribers) {
        if (typeof key !== 'string')
          throw invalidArg(`${name}.get(key): key must be a string, got ${describe(key)}`);
        if (v === undefined) miss(key);
        else hit(key);
      }
      return v;
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
          if (now >= e.refreshAt && flights.get(key) === undefined) startLoad(ctx, key, loader, entry, true);
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
      memory.set(key, value, entry.ttlMs, entry.tags);
    },

    delete(key) {
      assertKey(key, `${name}.delete(key)`);
      flights.detach(key);
      return memory.delete(key);
    },

    deleteByTag(tag) {
      if (typeof tag !== 'string')
        throw invalidArg(`${name}.deleteByTag(tag): tag must be a string, got ${describe(tag)}`);
      flights.detachTag(tag);
      return memory.deleteByTag(tag).length;
    },

    clear() {
      flights.detachAll();
      memory.clear();
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
      });
    },
  };
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
