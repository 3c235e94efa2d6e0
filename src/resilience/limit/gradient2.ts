import { clamp, type LimitAlgorithm, type LimitBounds } from './algorithm.js';

/**
 * @internal
 * Gradient2 compares a short-term RTT to a long-term one (Netflix's Gradient2Limit): while the
 * short one is no worse than `tolerance` times the long one the limit grows by a queue allowance
 * of 4; once latency rises, the gradient long/short (clamped to [0.5, 1]) shrinks it. The
 * long average drifts down towards the short one when it is much higher, so a past spike does not
 * hold the limit up. A drop counts as a sample twice the long RTT.
 */
export class Gradient2 implements LimitAlgorithm {
  limit: number;
  readonly #b: LimitBounds;
  #short = 0;
  #long = 0;
  #count = 0;
  readonly #tolerance = 1.5;
  readonly #smoothing = 0.2;
  readonly #longWindow = 600;
  readonly #shortWeight = 2 / (10 + 1);

  constructor(b: LimitBounds) {
    this.#b = b;
    this.limit = b.initial;
  }

  onSample(rttMs: number, inflight: number, dropped: boolean): void {
    if (dropped && this.#long > 0) rttMs = Math.max(rttMs, this.#long * 2);
    this.#count++;
    this.#short = this.#short === 0 ? rttMs : this.#short + this.#shortWeight * (rttMs - this.#short);
    // A plain average over the first 10 samples, then an EWMA over longWindow samples (Netflix's
    // ExpAvgMeasurement).
    const k = this.#count <= 10 ? 1 / this.#count : 2 / (this.#longWindow + 1);
    this.#long = this.#long + (rttMs - this.#long) * k;
    if (this.#long / this.#short > 2) this.#long *= 0.95;
    // Application-limited: the limit is not what holds calls back, so do not grow it.
    if (inflight < this.limit / 2 && !dropped) return;
    const gradient = Math.max(0.5, Math.min(1, (this.#tolerance * this.#long) / this.#short));
    const queue = 4;
    const target = this.limit * gradient + queue;
    this.limit = clamp(this.limit * (1 - this.#smoothing) + target * this.#smoothing, this.#b);
  }
}
