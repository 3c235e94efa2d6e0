import { clamp, type LimitAlgorithm, type LimitBounds } from './algorithm.js';

/**
 * @internal
 * Vegas estimates the queue at the dependency from the ratio of the no-load RTT (the minimum seen)
 * to the current one, as TCP Vegas does (Netflix's VegasLimit): queue = limit * (1 - rttNoLoad / rtt).
 * Below log10(limit) it grows fast, below 3 log10 it grows by log10, above 6 log10 it shrinks.
 *
 * The no-load RTT is re-measured by a probe every ~30 * limit samples: the probe resets the
 * minimum to the current RTT and leaves the limit alone. Envoy's adaptive concurrency instead
 * pins concurrency to its floor to measure it, which starves a busy service (envoy#8337).
 */
export class Vegas implements LimitAlgorithm {
  limit: number;
  readonly #b: LimitBounds;
  #rttNoLoad = 0;
  #samplesToProbe: number;
  readonly #smoothing: number;

  constructor(b: LimitBounds, smoothing = 1) {
    this.#b = b;
    this.limit = b.initial;
    this.#smoothing = smoothing;
    this.#samplesToProbe = this.#nextProbe();
  }

  /** rttNoLoadMs is the current no-load RTT estimate. */
  get rttNoLoadMs(): number {
    return this.#rttNoLoad;
  }

  #nextProbe(): number {
    return Math.ceil((0.5 + Math.random() * 0.5) * 30 * this.limit);
  }

  onSample(rttMs: number, inflight: number, dropped: boolean): void {
    if (--this.#samplesToProbe <= 0) {
      this.#samplesToProbe = this.#nextProbe();
      this.#rttNoLoad = rttMs;
      return;
    }
    if (this.#rttNoLoad === 0 || rttMs < this.#rttNoLoad) {
      this.#rttNoLoad = rttMs;
      return;
    }
    const limit = this.limit;
    const log = Math.max(1, Math.log10(limit));
    let next = limit;
    if (dropped) next = limit - log;
    else if (inflight * 2 < limit)
      return; // application-limited: nothing to learn
    else {
      const queue = Math.ceil(limit * (1 - this.#rttNoLoad / rttMs));
      if (queue <= log) next = limit + 6 * log;
      else if (queue < 3 * log) next = limit + log;
      else if (queue > 6 * log) next = limit - log;
      else return;
    }
    next = clamp(next, this.#b);
    this.limit = (1 - this.#smoothing) * limit + this.#smoothing * next;
  }
}
