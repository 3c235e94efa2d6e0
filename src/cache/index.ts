// leashjs/cache: an in-process cache with W-TinyLFU admission, TTL, weights, refresh-after-write,
// stale-while-refresh, and single-flight loads that each caller can leave on its own context and
// that are cancelled only when every waiter has gone; optionally a shared Redis tier with one load
// per key across processes, an invalidation bus with version fencing, and negative caching.
// See docs/cache.md.
export type { Cache, CacheOptions, CacheStats, EntryOptions } from './cache.js';
export { createCache } from './cache.js';
export { LoadAbandonedError, LoadTimeoutError } from './errors.js';
export type {
  CacheCoalescedEvent,
  CacheHitEvent,
  CacheLoadEvent,
  CacheMissEvent,
  CacheRedisErrorEvent,
  CacheStaleEvent,
  LoadOutcome,
  RedisOp,
  Tier,
} from './events.js';
export type { CacheRedisClient, CacheRedisSubscriber, Serializer } from './redis-tier.js';
