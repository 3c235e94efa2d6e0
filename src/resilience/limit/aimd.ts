import { clamp, type LimitAlgorithm, type LimitBounds } from './algorithm.js';

/**
 * @internal
 * Aimd is additive increase, multiplicative decrease (TCP Reno; Netflix's AIMDLimit): +1 for a
 * success while the limit is in use, x0.9 for a drop. It reacts only to drops, so feed it
 * timeouts (a timeout() inside the limit) or event-loop overload.
 */
export class Aimd implements LimitAlgorithm {
  limit: number;
  readonly #b: LimitBounds;
  readonly #backoff: number;

  constructor(b: LimitBounds, backoffRatio = 0.9) {
    this.#b = b;
    this.limit = b.initial;
    this.#backoff = backoffRatio;
  }

  onSample(_rttMs: number, inflight: number, dropped: boolean): void {
    if (dropped) this.limit = clamp(Math.floor(this.limit * this.#backoff), this.#b);
    // Only grow while the limit is what holds calls back (not when the application sends few).
    else if (inflight * 2 >= this.limit) this.limit = clamp(this.limit + 1, this.#b);
  }
}
