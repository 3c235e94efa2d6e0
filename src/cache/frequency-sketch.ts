// The frequency sketch of the W-TinyLFU admission policy: an approximate, aging count of how often
// each key was asked for, in a fixed amount of memory whatever the number of distinct keys.
//
// A count-min sketch of 4-bit counters (saturating at 15), 8 to a 32-bit word, four counters per
// key in four different words (one per "row", each from its own hash), the estimate being the
// smallest of the four. In front of it a doorkeeper (a one-bit Bloom filter): the first sighting
// of a key sets its doorkeeper bits and touches no counter, so the one-hit wonders that make up
// most of a miss stream never take counter space. Every `sampleSize` additions (10 x the cache's
// maximum) every counter is halved and the doorkeeper cleared: that "reset" is the aging that
// lets a once-popular key lose to today's. Layout after Caffeine's FrequencySketch (Ben Manes) and
// TinyLFU (Einziger, Friedman, Manes, ACM ToS 2017).

const SEEDS = [0x97cb3127, 0xb492b66f, 0x9ae16a3b, 0xcbf29ce5] as const;
const RESET_MASK = 0x77777777; // each nibble shifted right by one loses its high bit into the next: mask it off

/** hashKey is the 32-bit hash the sketch and the policy share for a key (FNV-1a, then mixed). */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix(h);
}

function mix(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x45d9f3b);
  h ^= h >>> 16;
  h = Math.imul(h, 0x45d9f3b);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * FrequencySketch estimates access frequencies (0 to 15, plus one for a key the doorkeeper has seen)
 * for up to about `capacity` hot keys. Not a public export. Memory: capacity rounded up to a power
 * of two, 4 bytes each for the counters and 1 bit each (x 4) for the doorkeeper.
 */
export class FrequencySketch {
  readonly #table: Uint32Array;
  readonly #mask: number;
  readonly #door: Uint32Array;
  readonly #doorMask: number;
  readonly #sampleSize: number;
  #additions = 0;

  constructor(capacity: number) {
    const size = nextPowerOfTwo(Math.max(16, Math.min(capacity, 1 << 26)));
    this.#table = new Uint32Array(size);
    this.#mask = size - 1;
    const doorBits = size * 4;
    this.#door = new Uint32Array(doorBits >>> 5);
    this.#doorMask = doorBits - 1;
    this.#sampleSize = Math.max(10 * capacity, 160);
  }

  /** sampleSize is the number of additions between two halvings. */
  get sampleSize(): number {
    return this.#sampleSize;
  }

  /** frequency is the estimated number of recent accesses to the key of hash `h`. */
  frequency(h: number): number {
    let min = 15;
    for (let i = 0; i < 4; i++) {
      const x = this.#slot(h, i);
      const c = (this.#table[x >>> 3] as number) >>> ((x & 7) << 2);
      const v = c & 0xf;
      if (v < min) min = v;
    }
    return min + (this.#inDoor(h) ? 1 : 0);
  }

  /** increment records one access to the key of hash `h`. */
  increment(h: number): void {
    if (!this.#inDoor(h)) {
      this.#addDoor(h);
    } else {
      // Conservative update: only the counters at the current minimum grow, which keeps the
      // estimate of keys that share counters with a hot key from drifting up with it.
      let min = 15;
      const slots = [0, 0, 0, 0];
      for (let i = 0; i < 4; i++) {
        const x = this.#slot(h, i);
        slots[i] = x;
        const v = ((this.#table[x >>> 3] as number) >>> ((x & 7) << 2)) & 0xf;
        if (v < min) min = v;
      }
      if (min < 15) {
        for (let i = 0; i < 4; i++) {
          const x = slots[i] as number;
          const shift = (x & 7) << 2;
          const w = this.#table[x >>> 3] as number;
          if (((w >>> shift) & 0xf) === min) this.#table[x >>> 3] = (w + (1 << shift)) >>> 0;
        }
      }
    }
    if (++this.#additions >= this.#sampleSize) this.#reset();
  }

  #slot(h: number, i: number): number {
    // One 3-bit nibble index and one word index per row, from a per-row remix of the key's hash.
    const r = mix(Math.imul(h ^ (SEEDS[i] as number), 0x9e3779b1));
    return ((r & this.#mask) << 3) | (r >>> 29);
  }

  #inDoor(h: number): boolean {
    const a = h & this.#doorMask;
    const b = mix(h ^ 0x5bd1e995) & this.#doorMask;
    return (
      (((this.#door[a >>> 5] as number) >>> (a & 31)) & 1) === 1 &&
      (((this.#door[b >>> 5] as number) >>> (b & 31)) & 1) === 1
    );
  }

  #addDoor(h: number): void {
    const a = h & this.#doorMask;
    const b = mix(h ^ 0x5bd1e995) & this.#doorMask;
    this.#door[a >>> 5] = ((this.#door[a >>> 5] as number) | (1 << (a & 31))) >>> 0;
    this.#door[b >>> 5] = ((this.#door[b >>> 5] as number) | (1 << (b & 31))) >>> 0;
  }

  #reset(): void {
    this.#additions = Math.floor(this.#additions / 2);
    const t = this.#table;
    for (let i = 0; i < t.length; i++) t[i] = ((t[i] as number) >>> 1) & RESET_MASK;
    this.#door.fill(0);
  }
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
