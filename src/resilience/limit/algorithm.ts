/**
 * @internal
 * LimitAlgorithm is one of Netflix concurrency-limits' algorithms: it turns samples of successful
 * calls (round-trip time, calls in flight when the call started, and whether it was dropped: timed
 * out) into a concurrency limit. The limit is writable: AdaptiveLimit backs it off itself while
 * this process's event loop is overloaded, whatever the algorithm.
 */
export interface LimitAlgorithm {
  limit: number;
  onSample(rttMs: number, inflight: number, dropped: boolean): void;
}

/** @internal Bounds shared by every algorithm. */
export interface LimitBounds {
  readonly min: number;
  readonly max: number;
  readonly initial: number;
}

export function clamp(v: number, b: LimitBounds): number {
  return Math.min(b.max, Math.max(b.min, v));
}
