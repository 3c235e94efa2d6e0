// The ghost list of the W-TinyLFU policy: the keys it evicted most recently (their hashes, not the
// keys), each with the side that lost it. ARC (Megiddo & Modha, FAST 03) keeps such "ghost" lists
// to learn, from a miss on a key it has just evicted, which of its two lists was too small; the
// policy uses the same signal to size its admission window (see WTinyLfu).
//
// A fixed table, no allocation after construction: the hashes of the last `capacity` evictions in
// a set-associative table (a bucket of WAYS per hash, the oldest replaced when a bucket is full),
// and a ring of the same evictions in order, so the count per side stays exact as the oldest age
// out. A lookup may miss a ghost whose bucket overflowed, and two keys whose 32-bit hashes are
// equal are one ghost: the list is a hint for sizing, and an occasional wrong hint moves the window
// by one step.

/** REFUSED marks a newcomer the policy refused admission (the window was too small to keep it). */
export const REFUSED = 0;
/** VICTIM marks an entry evicted from the main area to admit a newcomer (main was too small). */
export const VICTIM = 1;
const GONE = 2; // in the ring: the ghost was found (take) before it aged out
const WAYS = 4;
const AGE_MASK = 0x3fffffff; // stamps count evictions modulo 2^30 (capacity is far below it)

/** GhostList remembers the last `capacity` evicted key hashes and why each left. Not a public export. */
export class GhostList {
  readonly capacity: number;
  // Per way: the key hash and its stamp (eviction number << 1 | side, + 1 so 0 is empty).
  readonly #hashes: Uint32Array;
  readonly #stamps: Uint32Array;
  readonly #bucketMask: number;
  // The ring, in eviction order: the side of each of the last `capacity` evictions, or GONE.
  readonly #ring: Uint8Array;
  #evictions = 0; // modulo 2^30
  #cursor = 0; // the ring position of the next eviction
  readonly #count = [0, 0];

  constructor(capacity: number) {
    this.capacity = Math.max(16, Math.min(capacity, 1 << 24));
    let buckets = 1;
    while (buckets * WAYS < 2 * this.capacity) buckets *= 2;
    this.#hashes = new Uint32Array(buckets * WAYS);
    this.#stamps = new Uint32Array(buckets * WAYS);
    this.#bucketMask = buckets - 1;
    this.#ring = new Uint8Array(this.capacity).fill(GONE); // nothing to age out yet
  }

  /** refused and victims are how many ghosts of each side the list holds. */
  get refused(): number {
    return this.#count[REFUSED] as number;
  }

  get victims(): number {
    return this.#count[VICTIM] as number;
  }

  /** record remembers that the key of hash `h` was evicted from `side`, forgetting the oldest ghost once full. */
  record(h: number, side: typeof REFUSED | typeof VICTIM): void {
    // Into the bucket: the way already holding h (that ghost is forgotten: a key is one ghost, of
    // its latest side), else an empty or aged-out way, else the oldest.
    const base = (h & this.#bucketMask) * WAYS;
    let way = -1;
    let free = -1;
    let oldest = base;
    let oldestAge = -1;
    for (let w = base; w < base + WAYS; w++) {
      const s = this.#stamps[w] as number;
      if (s === 0 || !this.#live(s)) {
        if (free < 0) free = w;
        continue;
      }
      if (this.#hashes[w] === h) {
        this.#forget(s);
        way = w;
        break;
      }
      const age = this.#age(s);
      if (age > oldestAge) {
        oldestAge = age;
        oldest = w;
      }
    }
    if (way < 0) way = free >= 0 ? free : oldest;
    const at = this.#cursor;
    const old = this.#ring[at] as number;
    if (old !== GONE) (this.#count[old] as number)--;
    this.#ring[at] = side;
    (this.#count[side] as number)++;
    this.#hashes[way] = h;
    this.#stamps[way] = ((this.#evictions << 1) | side) + 1;
    this.#evictions = (this.#evictions + 1) & AGE_MASK;
    if (++this.#cursor === this.capacity) this.#cursor = 0;
  }

  /**
   * take looks the key of hash `h` up and forgets it: REFUSED or VICTIM when it was among the last
   * `capacity` evictions (and its bucket kept it), -1 when not. A REFUSED ghost recorded more than
   * `refusedWithin` evictions ago (0: the last one) is forgotten too, and answers -1.
   */
  take(h: number, refusedWithin = this.capacity): number {
    const base = (h & this.#bucketMask) * WAYS;
    for (let w = base; w < base + WAYS; w++) {
      if (this.#hashes[w] !== h) continue;
      const s = this.#stamps[w] as number;
      if (s === 0 || !this.#live(s)) return -1;
      this.#stamps[w] = 0;
      this.#forget(s);
      const side = (s - 1) & 1;
      return side === REFUSED && this.#age(s) > refusedWithin ? -1 : side;
    }
    return -1;
  }

  /** clear forgets every ghost. */
  clear(): void {
    this.#stamps.fill(0);
    this.#ring.fill(GONE);
    this.#count[REFUSED] = 0;
    this.#count[VICTIM] = 0;
  }

  /** age is how many evictions ago the ghost of stamp `s` was recorded (0 the last one). */
  #age(s: number): number {
    return (this.#evictions - 1 - ((s - 1) >>> 1)) & AGE_MASK;
  }

  #live(s: number): boolean {
    return this.#age(s) < this.capacity;
  }

  /** forget marks a live ghost found before it aged out: its side's count drops now, not when the ring passes it. */
  #forget(s: number): void {
    const side = (s - 1) & 1;
    const at = (this.#cursor - 1 - this.#age(s) + this.capacity) % this.capacity;
    if (this.#ring[at] !== GONE) {
      this.#ring[at] = GONE;
      (this.#count[side] as number)--;
    }
  }
}
