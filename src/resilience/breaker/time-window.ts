import { FAILURE, SLOW, type SlidingWindow, type WindowJSON } from './window.js';

/**
 * @internal
 * TimeWindow counts the calls of the last `ms` milliseconds in `buckets` buckets of ms/buckets
 * each (resilience4j uses one-second buckets). A bucket is cleared when time moves past it, so
 * advancing is at most `buckets` steps however long the breaker was idle: O(1) per call.
 */
export class TimeWindow implements SlidingWindow {
  calls = 0;
  failures = 0;
  slowCalls = 0;
  readonly capacity = Number.POSITIVE_INFINITY;
  readonly ms: number;
  readonly #n: number;
  readonly #width: number;
  readonly #calls: Uint32Array;
  readonly #failures: Uint32Array;
  readonly #slow: Uint32Array;
  // Index (time / width) of the newest bucket; -1 before the first call.
  #head = -1;

  constructor(ms: number, buckets: number) {
    this.ms = ms;
    this.#n = buckets;
    this.#width = ms / buckets;
    this.#calls = new Uint32Array(buckets);
    this.#failures = new Uint32Array(buckets);
    this.#slow = new Uint32Array(buckets);
  }

  advance(now: number): void {
    const idx = Math.floor(now / this.#width);
    const head = this.#head;
    if (idx <= head) return;
    this.#head = idx;
    if (head < 0) return;
    const steps = Math.min(idx - head, this.#n);
    for (let k = 1; k <= steps; k++) {
      const s = (head + k) % this.#n;
      this.calls -= this.#calls[s] as number;
      this.failures -= this.#failures[s] as number;
      this.slowCalls -= this.#slow[s] as number;
      this.#calls[s] = 0;
      this.#failures[s] = 0;
      this.#slow[s] = 0;
    }
  }

  record(now: number, flags: number): void {
    this.advance(now);
    // A clock read before a later one was recorded lands in the newest bucket.
    const s = Math.max(this.#head, 0) % this.#n;
    this.#calls[s] = (this.#calls[s] as number) + 1;
    this.calls++;
    if (flags & FAILURE) {
      this.#failures[s] = (this.#failures[s] as number) + 1;
      this.failures++;
    }
    if (flags & SLOW) {
      this.#slow[s] = (this.#slow[s] as number) + 1;
      this.slowCalls++;
    }
  }

  reset(): void {
    this.#calls.fill(0);
    this.#failures.fill(0);
    this.#slow.fill(0);
    this.#head = -1;
    this.calls = this.failures = this.slowCalls = 0;
  }

  toJSON(now: number): WindowJSON {
    this.advance(now);
    const counts: [number, number, number][] = [];
    for (let k = 0; k < this.#n && this.#head >= 0; k++) {
      const s = (((this.#head - k) % this.#n) + this.#n) % this.#n;
      counts.push([this.#calls[s] as number, this.#failures[s] as number, this.#slow[s] as number]);
    }
    return { kind: 'time', ms: this.ms, buckets: this.#n, counts };
  }

  load(json: WindowJSON, now: number): void {
    this.reset();
    if (json.kind !== 'time') return;
    this.advance(now);
    const head = this.#head;
    for (let k = 0; k < Math.min(this.#n, json.counts.length); k++) {
      const [c, f, sl] = json.counts[k] as [number, number, number];
      const s = (((head - k) % this.#n) + this.#n) % this.#n;
      this.#calls[s] = c;
      this.#failures[s] = f;
      this.#slow[s] = sl;
      this.calls += c;
      this.failures += f;
      this.slowCalls += sl;
    }
  }
}
