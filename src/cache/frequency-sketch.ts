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

const RESET_MASK = 0x77777777; // each nibble shifted right by one loses its high bit into the next: mask it off
const ROW_SEEDS = [0x97cb3127, 0xb492b66f, 0x9ae16a3b, 0xcbf29ce5] as const;

/** RESETS_MASK bounds `resets` (20 bits): it stays a small integer however long the sketch runs. */
const RESETS_MASK = 0xfffff;

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
  // Scratch for #minimum: the word index and nibble shift of the key's counter in each row.
  readonly #word = new Int32Array(4);
  readonly #shift = new Int32Array(4);
  #resets = 0;

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
    return this.#minimum(h) + (this.#inDoor(h) ? 1 : 0);
  }

  /** increment records one access to the key of hash `h`. */
  increment(h: number): void {
    this.add(h, 1);
    this.countAddition();
  }

  /**
   * resets is how many times the counters have been halved, modulo 2^20: the policy halves the
   * hits it has not handed over yet (see `countAddition` and `add`) when it changes, to age them
   * as the counters were aged.
   */
  get resets(): number {
    return this.#resets;
  }

  /**
   * countAddition counts one access toward the next halving without touching a counter: the
   * policy calls it for a hit whose increment it defers (kept on the entry, handed over with
   * `add`), so the sketch ages at the same pace as if every hit had been incremented.
   */
  countAddition(): void {
    if (++this.#additions >= this.#sampleSize) this.#reset();
  }

  /**
   * countAdditions counts `n` accesses at once, as `n` calls of countAddition would, provided
   * `n` is at most `additionsLeft` (the policy settles its tallied hits no later than that).
   */
  countAdditions(n: number): void {
    this.#additions += n;
    if (this.#additions >= this.#sampleSize) this.#reset();
  }

  /** additionsLeft is how many more additions the next halving waits for (at least 1). */
  get additionsLeft(): number {
    return this.#sampleSize - this.#additions;
  }

  /**
   * add records `n` accesses to the key of hash `h` that countAddition has already counted: the
   * doorkeeper takes the first if it has not seen the key, and the counters grow as `n`
   * conservative increments would (every counter below min + n rises to it, saturating at 15).
   */
  add(h: number, n: number): void {
    if (n <= 0) return;
    if (!this.#inDoor(h)) {
      this.#addDoor(h);
      if (--n === 0) return;
    }
    // Conservative update: only the counters below the new minimum grow, which keeps the
    // estimate of keys that share counters with a hot key from drifting up with it.
    const to = Math.min(15, this.#minimum(h) + n);
    const t = this.#table;
    for (let r = 0; r < 4; r++) {
      const i = this.#word[r] as number;
      const shift = this.#shift[r] as number;
      const c = ((t[i] as number) >>> shift) & 0xf;
      if (c < to) t[i] = ((t[i] as number) + ((to - c) << shift)) >>> 0;
    }
  }

  /**
   * minimum locates the key's four counters (one per row: a word index and a nibble shift from
   * one multiply of its hash, left in #word and #shift for the caller) and returns the smallest.
   */
  #minimum(h: number): number {
    const t = this.#table;
    const m = this.#mask;
    let min = 15;
    for (let r = 0; r < 4; r++) {
      const x = rehash(h, ROW_SEEDS[r] as number);
      const i = x & m;
      const shift = (x >>> 29) << 2;
      this.#word[r] = i;
      this.#shift[r] = shift;
      const c = ((t[i] as number) >>> shift) & 0xf;
      if (c < min) min = c;
    }
    return min;
  }

  #inDoor(h: number): boolean {
    const a = h & this.#doorMask;
    const b = rehash(h, 0x5bd1e995) & this.#doorMask;
    const d = this.#door;
    return (((d[a >>> 5] as number) >>> (a & 31)) & ((d[b >>> 5] as number) >>> (b & 31)) & 1) === 1;
  }

  #addDoor(h: number): void {
    const a = h & this.#doorMask;
    const b = rehash(h, 0x5bd1e995) & this.#doorMask;
    const d = this.#door;
    d[a >>> 5] = ((d[a >>> 5] as number) | (1 << (a & 31))) >>> 0;
    d[b >>> 5] = ((d[b >>> 5] as number) | (1 << (b & 31))) >>> 0;
  }

  // The loop comes last: a halving is rare, so V8 compiles its loop on the stack (OSR) during a
  // call, before anything after the loop has run, and code after it then lacked type feedback. On
  // Node 20 that deoptimized every halving ("Insufficient type feedback for generic keyed access"
  // at the door's fill, in `node --trace-deopt`), reusing the same compiled loop each time.
  #reset(): void {
    this.#additions = Math.floor(this.#additions / 2);
    this.#door.fill(0);
    this.#resets = (this.#resets + 1) & RESETS_MASK;
    const t = this.#table;
    for (let i = 0; i < t.length; i++) t[i] = ((t[i] as number) >>> 1) & RESET_MASK;
  }
}

// One row's index: the key's (already mixed) hash times an odd seed, high bits folded down. The
// low bits index the word, the top 3 bits the nibble.
function rehash(h: number, seed: number): number {
  const x = Math.imul(h, seed);
  return (x ^ (x >>> 17)) >>> 0;
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
