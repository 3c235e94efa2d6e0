// leashjs/resilience: timeout, retry with a shared budget, circuit breaker, bulkhead, rate limiters
// (local and Redis), adaptive concurrency limit, load shedding, hedging and fallback, every one
// obeying the caller's context. This file lists the layer's public names.
export { AdaptiveLimit, type AdaptiveLimitOptions, adaptiveLimit } from './adaptive-limit.js';
export {
  type Backoff,
  constantBackoff,
  type ExponentialBackoffOptions,
  exponentialBackoff,
} from './backoff.js';
export type { WindowJSON } from './breaker/window.js';
export { Bulkhead, type BulkheadOptions, bulkhead } from './bulkhead.js';
export {
  CircuitBreaker,
  type CircuitBreakerJSON,
  type CircuitBreakerMetrics,
  type CircuitBreakerOptions,
  circuitBreaker,
} from './circuit-breaker.js';
export {
  BrokenCircuitError,
  BulkheadRejectedError,
  ConcurrencyLimitError,
  RateLimitedError,
  RateLimitStoreError,
} from './errors.js';
export type {
  BreakerRejectedEvent,
  BreakerState,
  BreakerStateChangeEvent,
  BulkheadRejectedEvent,
  HedgeEvent,
  LimitChangeEvent,
  RateLimitedEvent,
  RetryEvent,
  RetryGiveUpEvent,
  ShedEvent,
  StoreErrorEvent,
  TimeoutEvent,
} from './events.js';
export { type FallbackOptions, FallbackPolicy, fallback } from './fallback.js';
export { type HedgeOptions, HedgePolicy, hedge } from './hedge.js';
export type { Policy } from './policy.js';
export { RateLimiter, type RateLimiterOptions, rateLimiter } from './rate-limiter.js';
export {
  RedisRateLimiter,
  type RedisRateLimiterOptions,
  type RedisScripting,
  redisRateLimiter,
} from './redis-rate-limiter.js';
export { type RetryOptions, RetryPolicy, retry } from './retry.js';
export { RetryBudget, type RetryBudgetOptions, retryBudget } from './retry-budget.js';
export { type ShedLoadOptions, shedLoad } from './shed-load.js';
export { type TimeoutOptions, TimeoutPolicy, timeout } from './timeout.js';
export { wrap } from './wrap.js';
