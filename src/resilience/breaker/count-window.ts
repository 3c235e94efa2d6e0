import { FAILURE, SLOW, type SlidingWindow, type WindowJSON } from './window.js';

/**
 * @internal
 * CountWindow holds the outcomes of the last `size` calls in a ring of bytes (bit 0 failure, bit 1
 * slow, bit 2 present). Recording evicts the oldest outcome and adjusts the totals: O(1).
 */
export class CountWindow implements SlidingWindow {
  calls = 0;
  failures = 0;
  slowCalls = 0;
  readonly capacity: number;
  readonly #ring: Uint8Array;
  #next = 0;

  constructor(size: number) {
    this.capacity = size;
    this.#ring = new Uint8Array(size);
  }

  record(_now: number, flags: number): void {
    const i = this.#next;
    const old = this.#ring[i] as number;
    if (old & 4) {
      this.calls--;
      if (old & FAILURE) this.failures--;
      if (old & SLOW) this.slowCalls--;
    }
    this.#ring[i] = flags | 4;
    this.calls++;
    if (flags & FAILURE) this.failures++;
    if (flags & SLOW) this.slowCalls++;
    this.#next = i + 1 === this.capacity ? 0 : i + 1;
  }

  advance(_now: number): void {}

  reset(): void {
    this.#ring.fill(0);
    this.#next = 0;
    this.calls = this.failures = this.slowCalls = 0;
  }

  toJSON(): WindowJSON {
    const outcomes: number[] = [];
    for (let k = 0; k < this.capacity; k++) {
      const v = this.#ring[(this.#next + k) % this.capacity] as number;
      if (v & 4) outcomes.push(v & 3);
    }
    return { kind: 'count', size: this.capacity, outcomes };
  }

  load(json: WindowJSON, now: number): void {
    this.reset();
    if (json.kind !== 'count') return;
    for (const o of json.outcomes.slice(-this.capacity)) this.record(now, o & 3);
  }
}
