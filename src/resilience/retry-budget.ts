import { assertNumber, assertOptions } from '../context/internal.js';

/** RetryBudgetOptions configure retryBudget(). */
export interface RetryBudgetOptions {
  /** ratio is how many retries are allowed per call, over the window. A fraction in [0, 1000]. Default: 0.2. */
  readonly ratio?: number;
  /** minPerSecond is a floor of retries per second allowed even with few calls. Minimum: 0. Default: 10. */
  readonly minPerSecond?: number;
  /** windowMs is how long calls and retries are remembered. Default: 10000. */
  readonly windowMs?: number;
}

const BUCKETS = 10;

/**
 * retryBudget returns a budget that retry() policies share (Finagle's RetryBudget, gRPC's retry
 * throttling): over the last `windowMs`, retries may be at most `ratio` times the calls plus
 * `minPerSecond` per second of window. Share one budget between every policy that calls the same
 * dependency, so that a retry storm cannot multiply its load: with ratio 0.2, an outage costs at
 * most 1.2x the traffic, not maxAttempts times. Counting is O(1) in a ring of buckets; no timer.
 *
 * @example
 * const budget = retryBudget({ ratio: 0.1, minPerSecond: 5, windowMs: 10_000 });
 * const a = retry({ maxAttempts: 3, budget });
 * const b = retry({ maxAttempts: 5, budget });
 */
export function retryBudget(options?: RetryBudgetOptions): RetryBudget {
  const where = 'retryBudget(options)';
  const o = assertOptions(options, where, ['ratio', 'minPerSecond', 'windowMs']);
  const ratio = o.ratio ?? 0.2;
  assertNumber(ratio, where, 'ratio', { min: 0, max: 1000 });
  const minPerSecond = o.minPerSecond ?? 10;
  assertNumber(minPerSecond, where, 'minPerSecond', { min: 0 });
  const windowMs = o.windowMs ?? 10_000;
  assertNumber(windowMs, where, 'windowMs', { min: 1, unit: 'milliseconds' });
  return new RetryBudget(ratio, minPerSecond, windowMs);
}

/** RetryBudget is what retryBudget() returns; retry() uses it, and it can be read for metrics. */
export class RetryBudget {
  readonly ratio: number;
  readonly minPerSecond: number;
  readonly windowMs: number;
  readonly #width: number;
  readonly #calls = new Float64Array(BUCKETS);
  readonly #retries = new Float64Array(BUCKETS);
  #head = -1;
  #callTotal = 0;
  #retryTotal = 0;

  constructor(ratio: number, minPerSecond: number, windowMs: number) {
    this.ratio = ratio;
    this.minPerSecond = minPerSecond;
    this.windowMs = windowMs;
    this.#width = windowMs / BUCKETS;
  }

  /** available is how many retries the budget would allow now. */
  get available(): number {
    this.#advance(performance.now());
    return Math.max(0, Math.floor(this.#allowance() - this.#retryTotal));
  }

  /** @internal Counts a call (its first attempt). */
  deposit(): void {
    const s = this.#advance(performance.now());
    this.#calls[s] = (this.#calls[s] as number) + 1;
    this.#callTotal++;
  }

  /** @internal Takes one retry from the budget; false when there is none left. */
  tryWithdraw(): boolean {
    const s = this.#advance(performance.now());
    if (this.#retryTotal + 1 > this.#allowance()) return false;
    this.#retries[s] = (this.#retries[s] as number) + 1;
    this.#retryTotal++;
    return true;
  }

  #allowance(): number {
    return this.ratio * this.#callTotal + (this.minPerSecond * this.windowMs) / 1000;
  }

  #advance(now: number): number {
    const idx = Math.floor(now / this.#width);
    const head = this.#head;
    if (idx > head) {
      if (head >= 0) {
        const steps = Math.min(idx - head, BUCKETS);
        for (let k = 1; k <= steps; k++) {
          const s = (head + k) % BUCKETS;
          this.#callTotal -= this.#calls[s] as number;
          this.#retryTotal -= this.#retries[s] as number;
          this.#calls[s] = 0;
          this.#retries[s] = 0;
        }
      }
      this.#head = idx;
    }
    return this.#head % BUCKETS;
  }
}
