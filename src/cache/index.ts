// leashjs/cache: an in-process cache with W-TinyLFU admission, TTL, weights, refresh-after-write,
// stale-while-refresh, and single-flight loads that each caller can leave on its own context and
// that are cancelled only when every waiter has gone. See docs/cache.md.
export type { Cache, CacheOptions, CacheStats, EntryOptions } from './cache.js';
export { createCache } from './cache.js';
export { LoadAbandonedError, LoadTimeoutError } from './errors.js';
export type {
  CacheCoalescedEvent,
  CacheHitEvent,
  CacheLoadEvent,
  CacheMissEvent,
  CacheStaleEvent,
  LoadOutcome,
  Tier,
} from './events.js';
