// Diagnostics for leashjs/cache, on node:diagnostics_channel, for observers (metrics, tracing) that
// must not be imported here. Nothing is built or published when nobody listens: the cost is one
// property read per event. Every payload is a new frozen plain object, so a subscriber can keep it
// but never change what the cache does (docs/diagnostics.md).
import diagnostics_channel from 'node:diagnostics_channel';

/** Tier names the tier an event is about: the process's memory, or the Redis tier shared by every process. */
export type Tier = 'memory' | 'redis';

/** CacheHitEvent is the payload of `leash:cache:hit`: a fresh value was found (get or getOrLoad) in `tier` ('redis': once per load answered by Redis). */
export interface CacheHitEvent {
  readonly name: string;
  readonly key: string;
  readonly tier: Tier;
}

/** CacheMissEvent is the payload of `leash:cache:miss`: no servable value in that tier. */
export interface CacheMissEvent {
  readonly name: string;
  readonly key: string;
  readonly tier: Tier;
}

/** CacheCoalescedEvent is the payload of `leash:cache:coalesced`: a getOrLoad joined a load already running; `waiters` counts it. */
export interface CacheCoalescedEvent {
  readonly name: string;
  readonly key: string;
  readonly waiters: number;
}

/** CacheStaleEvent is the payload of `leash:cache:stale`: getOrLoad served a value past its ttl, within staleMs, while a refresh runs. */
export interface CacheStaleEvent {
  readonly name: string;
  readonly key: string;
  /** staleForMs is how long ago the value expired. */
  readonly staleForMs: number;
}

/** LoadOutcome is how a load ended: stored, rejected, over loadTimeoutMs, or cancelled because every waiter left. */
export type LoadOutcome = 'ok' | 'error' | 'timeout' | 'abandoned';

/** CacheLoadEvent is the payload of `leash:cache:load`: a loader settled (or was given up on). */
export interface CacheLoadEvent {
  readonly name: string;
  readonly key: string;
  readonly durationMs: number;
  readonly outcome: LoadOutcome;
  /** refresh is true for a background refresh (refreshAfterMs or a stale value), false for a miss. */
  readonly refresh: boolean;
  /** error is the loader's rejection when outcome is 'error', else undefined. */
  readonly error: unknown;
}

/** RedisOp names the Redis call that failed. */
export type RedisOp =
  | 'read'
  | 'write'
  | 'delete'
  | 'invalidate'
  | 'release'
  | 'publish'
  | 'subscribe'
  | 'deserialize';

/** CacheRedisErrorEvent is the payload of `leash:cache:redis-error`: a Redis call failed or timed out; the cache went on without it (no caller saw the error). */
export interface CacheRedisErrorEvent {
  readonly name: string;
  /** key is the cache key concerned, undefined for the bus. */
  readonly key: string | undefined;
  readonly op: RedisOp;
  readonly error: unknown;
}

export const hitChannel = diagnostics_channel.channel('leash:cache:hit');
export const missChannel = diagnostics_channel.channel('leash:cache:miss');
export const coalescedChannel = diagnostics_channel.channel('leash:cache:coalesced');
export const staleChannel = diagnostics_channel.channel('leash:cache:stale');
export const loadChannel = diagnostics_channel.channel('leash:cache:load');
export const redisErrorChannel = diagnostics_channel.channel('leash:cache:redis-error');
