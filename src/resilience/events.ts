// Diagnostics for the resilience policies, on node:diagnostics_channel, for observers (metrics,
// tracing) that must not be imported here. Nothing is built or published when nobody listens: the
// cost is one property read per event. Every payload is a new frozen plain object, so a subscriber
// can keep it but never change what a policy does (docs/diagnostics.md).
import diagnostics_channel from 'node:diagnostics_channel';

/** BreakerState is a circuit breaker's state, as resilience4j names them. */
export type BreakerState = 'closed' | 'open' | 'half-open' | 'forced-open' | 'disabled';

/** BreakerStateChangeEvent is the payload of `leash:resilience:breaker:state-change`. */
export interface BreakerStateChangeEvent {
  readonly name: string;
  readonly from: BreakerState;
  readonly to: BreakerState;
  /** failureRate and slowCallRate measured when the change was decided (NaN when not measured). */
  readonly failureRate: number;
  readonly slowCallRate: number;
}

/** BreakerRejectedEvent is the payload of `leash:resilience:breaker:rejected`: a call was not let through. */
export interface BreakerRejectedEvent {
  readonly name: string;
  readonly state: BreakerState;
}

/** BulkheadRejectedEvent is the payload of `leash:resilience:bulkhead:rejected`. */
export interface BulkheadRejectedEvent {
  readonly name: string;
  readonly reason: 'full' | 'budget';
  readonly active: number;
  readonly queued: number;
}

/** RetryEvent is the payload of `leash:resilience:retry:retry`: an attempt failed and another will start after `delayMs`. */
export interface RetryEvent {
  readonly name: string;
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: unknown;
}

/** RetryGiveUpEvent is the payload of `leash:resilience:retry:give-up`: no further attempt will start. */
export interface RetryGiveUpEvent {
  readonly name: string;
  readonly attempts: number;
  readonly reason: 'attempts' | 'not-retryable' | 'budget' | 'deadline';
  readonly error: unknown;
}

/** TimeoutEvent is the payload of `leash:resilience:timeout:timeout`: a timeout policy released its caller. */
export interface TimeoutEvent {
  readonly name: string;
  readonly ms: number;
}

/** RateLimitedEvent is the payload of `leash:resilience:rate-limiter:limited`. */
export interface RateLimitedEvent {
  readonly name: string;
  readonly key: string | undefined;
  readonly retryAfterMs: number;
}

/** StoreErrorEvent is the payload of `leash:resilience:redis-rate-limiter:store-error`. */
export interface StoreErrorEvent {
  readonly name: string;
  readonly error: unknown;
  readonly decision: 'allow' | 'reject' | 'local';
}

/** LimitChangeEvent is the payload of `leash:resilience:adaptive-limit:limit-change`. */
export interface LimitChangeEvent {
  readonly name: string;
  readonly from: number;
  readonly to: number;
}

/** HedgeEvent is the payload of `leash:resilience:hedge:hedge`: a second attempt started after `afterMs`. */
export interface HedgeEvent {
  readonly name: string;
  readonly afterMs: number;
}

/** ShedEvent is the payload of `leash:resilience:shed-load:shed`: a request was answered 503. */
export interface ShedEvent {
  readonly error: unknown;
  readonly retryAfterSeconds: number;
}

/** @internal The channels, one per event; `publish` freezes the payload. */
export const channels = {
  breakerStateChange: diagnostics_channel.channel('leash:resilience:breaker:state-change'),
  breakerRejected: diagnostics_channel.channel('leash:resilience:breaker:rejected'),
  bulkheadRejected: diagnostics_channel.channel('leash:resilience:bulkhead:rejected'),
  retry: diagnostics_channel.channel('leash:resilience:retry:retry'),
  retryGiveUp: diagnostics_channel.channel('leash:resilience:retry:give-up'),
  timeout: diagnostics_channel.channel('leash:resilience:timeout:timeout'),
  rateLimited: diagnostics_channel.channel('leash:resilience:rate-limiter:limited'),
  storeError: diagnostics_channel.channel('leash:resilience:redis-rate-limiter:store-error'),
  limitChange: diagnostics_channel.channel('leash:resilience:adaptive-limit:limit-change'),
  hedge: diagnostics_channel.channel('leash:resilience:hedge:hedge'),
  shed: diagnostics_channel.channel('leash:resilience:shed-load:shed'),
} as const;

/** @internal Publishes a frozen copy of `payload` when `channel` has subscribers. */
export function publish<T extends object>(channel: diagnostics_channel.Channel, payload: () => T): void {
  if (channel.hasSubscribers) channel.publish(Object.freeze(payload()));
}
