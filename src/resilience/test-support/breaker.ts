// Test-only helpers shared by the circuit breaker's test files (excluded from the build).
import { background } from '../../context/index.js';
import { type CircuitBreaker, type CircuitBreakerOptions, circuitBreaker } from '../index.js';

export const boom = new Error('boom');
const bg = background();

/**
 * breakerMaker returns a maker of breakers judged on a count window of 5 calls (open at a 50%
 * failure rate once 5 calls are in), with `defaults` and then each call's options on top.
 */
export function breakerMaker(defaults: CircuitBreakerOptions): (o?: CircuitBreakerOptions) => CircuitBreaker {
  return (o = {}) =>
    circuitBreaker({ failureRate: 0.5, window: { calls: 5 }, minimumCalls: 5, ...defaults, ...o });
}

/** ok runs a call that succeeds. */
export const ok = (b: CircuitBreaker): Promise<unknown> => b.execute(bg, async () => 'ok');

/** fail runs a call that fails with `boom` and resolves with what the breaker rejected with. */
export const fail = (b: CircuitBreaker): Promise<unknown> =>
  b
    .execute(bg, async () => {
      throw boom;
    })
    .catch((e) => e);
