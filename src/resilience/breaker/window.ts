// The sliding windows a circuit breaker measures failure and slow-call rates over. Both update in
// O(1) per call and allocate nothing after construction: a count window is a ring of outcomes, a
// time window a ring of buckets (resilience4j's two strategies).

/** @internal Outcome flags of one call. */
export const FAILURE = 1;
export const SLOW = 2;

/** WindowJSON is a window's state in a breaker's toJSON(). */
export type WindowJSON =
  | { readonly kind: 'count'; readonly size: number; readonly outcomes: number[] }
  | {
      readonly kind: 'time';
      readonly ms: number;
      readonly buckets: number;
      /** Per bucket, newest first: [calls, failures, slowCalls]. */
      readonly counts: [number, number, number][];
    };

/** @internal What a breaker needs from a window. */
export interface SlidingWindow {
  /** Totals over the window, valid after record() or advance(now). */
  calls: number;
  failures: number;
  slowCalls: number;
  /** The largest number of calls the window can hold (Infinity for a time window). */
  readonly capacity: number;
  record(now: number, flags: number): void;
  advance(now: number): void;
  reset(): void;
  toJSON(now: number): WindowJSON;
  load(json: WindowJSON, now: number): void;
}
