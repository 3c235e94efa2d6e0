import { assertNumber, assertOneOf, assertOptions } from '../context/internal.js';

/**
 * Backoff says how long retry() waits before attempt `attempt + 1`, given the previous wait
 * (`previousMs`, 0 before the first retry). Implement it for a custom schedule; it must return a
 * number of milliseconds >= 0 and may be called concurrently by many calls (keep it stateless).
 */
export interface Backoff {
  delayMs(attempt: number, previousMs: number): number;
}

/** constantBackoff waits `ms` milliseconds before every retry. */
export function constantBackoff(ms: number): Backoff {
  assertNumber(ms, 'constantBackoff(ms)', 'ms', { min: 0, unit: 'milliseconds' });
  return { delayMs: () => ms };
}

/** ExponentialBackoffOptions configure exponentialBackoff(). */
export interface ExponentialBackoffOptions {
  /** initialMs is the first wait's base. Minimum: 0. Default: 100. */
  readonly initialMs?: number;
  /** maxMs caps every wait. Default: 30000. */
  readonly maxMs?: number;
  /** factor multiplies the base at each attempt. Minimum: 1. Default: 2. */
  readonly factor?: number;
  /**
   * jitter spreads retries apart (AWS's "Exponential Backoff and Jitter"): 'full' waits a random
   * time in [0, base]; 'equal' in [base/2, base]; 'decorrelated' in [initialMs, 3 * previous];
   * 'none' waits the base. Default: 'full'.
   */
  readonly jitter?: 'full' | 'equal' | 'decorrelated' | 'none';
}

/**
 * exponentialBackoff waits initialMs * factor^(attempt-1), capped at maxMs, spread by `jitter`.
 *
 * @example
 * retry({ maxAttempts: 5, backoff: exponentialBackoff({ initialMs: 50, maxMs: 2_000, jitter: 'full' }) })
 */
export function exponentialBackoff(options?: ExponentialBackoffOptions): Backoff {
  const where = 'exponentialBackoff(options)';
  const o = assertOptions(options, where, ['initialMs', 'maxMs', 'factor', 'jitter']);
  const initialMs = o.initialMs ?? 100;
  assertNumber(initialMs, where, 'initialMs', { min: 0, unit: 'milliseconds' });
  const maxMs = o.maxMs ?? 30_000;
  assertNumber(maxMs, where, 'maxMs', { min: initialMs, unit: 'milliseconds' });
  const factor = o.factor ?? 2;
  assertNumber(factor, where, 'factor', { min: 1 });
  const jitter = o.jitter ?? 'full';
  assertOneOf(jitter, where, 'jitter', ['full', 'equal', 'decorrelated', 'none'] as const);
  const base = (attempt: number): number => Math.min(maxMs, initialMs * factor ** Math.max(0, attempt - 1));
  switch (jitter) {
    case 'none':
      return { delayMs: (attempt) => base(attempt) };
    case 'full':
      return { delayMs: (attempt) => Math.random() * base(attempt) };
    case 'equal':
      return {
        delayMs: (attempt) => {
          const b = base(attempt);
          return b / 2 + (Math.random() * b) / 2;
        },
      };
    case 'decorrelated':
      return {
        delayMs: (_attempt, previousMs) => {
          const prev = Math.max(initialMs, previousMs);
          return Math.min(maxMs, initialMs + Math.random() * (prev * 3 - initialMs));
        },
      };
  }
}
