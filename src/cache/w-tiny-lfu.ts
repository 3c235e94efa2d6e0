// W-TinyLFU, the eviction and admission policy of the memory tier (Einziger, Friedman, Manes,
// "TinyLFU: A Highly Efficient Cache Admission Policy", ACM ToS 2017), its window sized as ARC
// sizes its lists (Megiddo, Modha, "ARC: A Self-Tuning, Low Overhead Replacement Cache", FAST 03).
//
// Three queues share the maximum: a small admission window (1% at first) that every new entry
// enters, and a main area split into probation (20% of main) and protected (80%); the window and
// probation are LRU lists, protected a two-bit CLOCK (#touch, #protectedLru). An entry pushed
// out of the window becomes a candidate at the tail of probation; while the cache is over its
// maximum, the candidate is compared with probation's least recently used entry (the victim) and
// the one the frequency sketch rates less popular is evicted. A hit in probation promotes the entry
// to protected, whose overflow is demoted back to probation. Every key evicted is remembered in a
// ghost list (GhostList) with the side that lost it; a newcomer found there moves the window/main
// split toward the side that lost it, and a refused one is admitted next time (#learn). Every
// operation is O(1) (amortised): a few reads and writes of typed arrays indexed by the entry's slot.
//
// Why not Caffeine's hill climber, which samples the hit ratio every 10 x maximum requests and
// moves the split toward the better sample: on the ARC traces it moved too seldom (6 samples in
// OLTP at 15,000 entries) and followed the workload's phases more than the window's effect, and
// left OLTP 0.3-3 points under ARC at 2,000-15,000 entries; the ghost list learns from each miss
// it could have avoided (docs/cache.md has both tables).
//
// Weights: queue sizes are in weight units (an entry counts 1 when the cache is bounded by count).
//
// Hits are tallied per slot, not in the sketch. Incrementing the sketch on every hit was about
// half of a hit's cost (its counters are spread over a table that the cache's own data pushes out
// of the CPU's caches; docs/cache.md has the measurement), and the sketch is read only when an
// entry is judged for admission or has left. So a hit counts toward the sketch's next halving (as
// an increment would) and adds one to its slot's tally, which is halved with the counters at each
// halving (#ageTallies) and handed to the sketch, as that many conservative increments, when the
// entry is judged, evicted or removed. A key the sketch has not seen, or one whose counters
// another key shares, reads the same as with immediate increments except for the tally's rounding
// at a halving.

import { FrequencySketch } from './frequency-sketch.js';
import { GhostList, REFUSED, VICTIM } from './ghost-list.js';

// The queue a slot is in (the low bits of its state), and END, the end of a queue. Module-local on purpose:
// V8 reads an exported binding through a cell, checking its temporal dead zone, at every use,
// where it folds a module-local const into the code (a hit reads three of these).
const WINDOW = 0;
const PROBATION = 1;
const PROTECTED = 2;
const DETACHED = 3;
// In protected and hit once, or more than once, since it entered protected or last came to its
// head (see #protectedLru).
const REFERENCED = 4;
const REFERENCED_TWICE = 5;
const END = -1;
/** NO_SLOT is the slot of an entry the policy does not hold (the memory tier's Entry.slot then). */
export const NO_SLOT = END;

const PERCENT_MAIN_PROTECTED = 0.8;
const INITIAL_WINDOW = 0.01;
const ADMIT_HASHDOS_THRESHOLD = 6;
const TALLY_MAX = 16; // the sketch's 15 plus the doorkeeper's 1: more cannot change an estimate
const INITIAL_SLOTS = 64;
// The sketch and the ghost list of a cache bounded by weight start at MIN_CAPACITY entries; no
// cache's grow past MAX_CAPACITY entries. Per entry of capacity: 4.5 bytes of sketch, 17 of ghosts.
const MIN_CAPACITY = 256;
const MAX_CAPACITY = 1 << 24;
// A slot's fields: in #links two 32-bit words, the previous and next slot in its queue; in #state
// one byte, its hit tally (0 to TALLY_MAX, times TALLY_ONE) and its queue (the low three bits).
// A hit reads and writes that byte only; the links change when an entry moves between or within
// queues. One byte a slot keeps the state of 10,000 entries in 10 KB of the CPU's caches.
const PREV = 0;
const NEXT = 1;
const QUEUE_BITS = 7;
const TALLY_ONE = 8;
// The state of a hot entry: in protected, hit twice since its last pass, tally full.
const HOT = (TALLY_MAX * TALLY_ONE) | REFERENCED_TWICE;

/** Queue is one list of slots (LRU order, or CLOCK order for protected): its ends and its total weight; the links live in the policy. */
class Queue {
  head = END; // least recently used
  tail = END; // most recently used
  weight = 0;
}

/**
 * WTinyLfu decides which entries stay within `maximum` weight. It owns no map, no keys and no
 * values: it knows each entry it holds by a slot, a small integer it hands out (`slotFor`), and
 * keeps everything it needs per slot (links, hit tally, queue, hash, weight) in typed arrays
 * indexed by slot. The memory tier maps keys to slots and tells the policy about adds, hits,
 * removals and weight changes; the policy calls `onEvict(slot)` for each entry it pushes out
 * (synchronously, from add or setWeight), after unlinking and freeing its slot; the slot is not
 * handed out again before the next slotFor.
 *
 * Why slots: a hit in the window moves its entry to the tail of its queue, which rewrites the
 * links of the entry's two neighbours and of the old tail. With the links as fields of entry
 * objects, a hit pulled four objects scattered over the heap into the CPU's cache; with slots it
 * reads and writes a few words of typed arrays, and a hit in protected (the common one) only its
 * own byte of #state; the tier answers a hit from its own arrays without touching the entry
 * object at all (lru-cache's layout; docs/cache.md has the measurements). Not a public export.
 */
export class WTinyLfu {
  readonly maximum: number;
  #sketch: FrequencySketch;
  readonly #onEvict: (slot: number) => void;
  readonly #window = new Queue();
  readonly #probation = new Queue();
  readonly #protected = new Queue();
  // Indexed by a slot's queue bits: protected's three marks find protected, DETACHED nothing.
  readonly #queues: readonly (Queue | undefined)[] = [
    this.#window,
    this.#probation,
    this.#protected,
    undefined,
    this.#protected,
    this.#protected,
  ];
  // Per slot: #links[2 x slot + PREV, NEXT], #state[slot] (tally and queue), the key's hash and
  // the weight. The tally is the hits not yet handed to the frequency sketch, aged with it.
  #links = new Int32Array(2 * INITIAL_SLOTS);
  #state = new Uint8Array(INITIAL_SLOTS);
  #hash = new Uint32Array(INITIAL_SLOTS);
  #weights = new Float64Array(INITIAL_SLOTS);
  // 1 for an entry that came back as a refused ghost the window could have kept: it is admitted to
  // main when it leaves the window, whatever the sketch says (ARC moves a B1 hit to T2).
  #readmit = new Uint8Array(INITIAL_SLOTS);
  #free: number[] = [];
  #slots = 0; // slots handed out at least once: the next new slot
  #windowMax: number;
  #protectedMax: number;
  // Hits are counted in one field, #ticks, and settled into the sketch's additions (#settle)
  // when a halving is due (#ticksDue hits from the last settlement) and before anything else
  // counts toward it: the same halvings, at the same accesses, as counting each hit into it.
  #ticks = 0;
  #ticksDue = 1;
  // The sketch's halvings the tallies have been aged for (#ageTallies).
  #resets = 0;
  // Window sizing: the evicted keys and the side that lost each, and the window's target size,
  // fractional (it moves by ratios of the ghost counts) and rounded into #windowMax.
  #ghosts: GhostList;
  // Entries the sketch and the ghost list are sized for, and how far that may grow.
  #capacity: number;
  readonly #capacityLimit: number;
  #windowTarget: number;
  #random = 0x2545f491;

  /**
   * `maximum` is in weight units; `byWeight` says whether they are entries (false) or weights
   * (true). The frequency sketch and the ghost list are sized in entries: to `maximum` when it
   * counts entries, and when it counts weight (bytes, say, where `maximum` says nothing of how
   * many entries fit), from MIN_CAPACITY up, doubled as the entries held outgrow them (each
   * doubling starts them afresh, as Caffeine's sketch does), never past `maximum` or MAX_CAPACITY.
   */
  constructor(maximum: number, onEvict: (slot: number) => void, byWeight = false) {
    this.maximum = maximum;
    this.#onEvict = onEvict;
    this.#capacityLimit = Math.min(maximum, MAX_CAPACITY);
    this.#capacity = byWeight ? Math.min(MIN_CAPACITY, this.#capacityLimit) : this.#capacityLimit;
    this.#sketch = new FrequencySketch(this.#capacity);
    this.#ghosts = new GhostList(this.#capacity);
    this.#windowMax = Math.max(1, Math.round(maximum * INITIAL_WINDOW));
    this.#protectedMax = Math.floor((maximum - this.#windowMax) * PERCENT_MAIN_PROTECTED);
    this.#windowTarget = this.#windowMax;
    this.#ticksDue = this.#dueIn();
  }

  /** weight is the total weight of the entries the policy holds. */
  get weight(): number {
    return this.#window.weight + this.#probation.weight + this.#protected.weight;
  }

  /** segmentOf names the queue holding `slot` (undefined when the policy does not hold it), for tests. */
  segmentOf(slot: number): 'window' | 'probation' | 'protected' | undefined {
    const q = this.#queueOf(slot);
    if (q === this.#window) return 'window';
    if (q === this.#probation) return 'probation';
    return q === this.#protected ? 'protected' : undefined;
  }

  /** windowMaximum is the current size of the admission window, for tests and the bench. */
  get windowMaximum(): number {
    return this.#windowMax;
  }

  /**
   * slotFor reserves a slot for a new entry of key hash `hash` and `weight`, not yet in any queue
   * (nothing is evicted). The caller records the entry under the slot, then calls add(slot).
   */
  slotFor(hash: number, weight: number): number {
    let s = this.#free.pop();
    if (s === undefined) {
      s = this.#slots++;
      if (s === this.#hash.length) this.#grow();
      if (s === this.#capacity && s < this.#capacityLimit) this.#resize();
    }
    this.#hash[s] = hash;
    this.#weights[s] = weight;
    this.#readmit[s] = 0;
    this.#state[s] = DETACHED;
    return s;
  }

  /** add links a slot from slotFor into the window and evicts until the total fits (possibly the new entry itself). */
  add(slot: number): void {
    this.#increment(slot);
    this.#learn(slot);
    this.#state[slot] = WINDOW;
    this.#push(this.#window, slot);
    this.#evict();
  }

  /** hit records an access to a slot the policy holds. */
  hit(slot: number): void {
    // The common hit, an entry in protected hit twice since its last pass (#touch), only adds one
    // to its tally (unless full); everything else is out of line (#hitSlow), which keeps this
    // method small enough for V8 to inline into its callers.
    const state = this.#state;
    const b = state[slot] as number;
    if (++this.#ticks < this.#ticksDue && (b & QUEUE_BITS) === REFERENCED_TWICE) {
      // Math.min, not a branch on a full tally: whether the tally is full follows the key's hits
      // within the halving period, which a branch predictor cannot guess (cachegrind's model: 1.73
      // mispredicted branches per hit with the branch, 0.77 without).
      state[slot] = Math.min(b + TALLY_ONE, HOT);
      return;
    }
    this.#hitSlow(slot);
  }

  /** hitSlow is hit for the rest: a halving due (#ticks already counts this hit), or an entry not yet marked twice in protected. */
  #hitSlow(slot: number): void {
    if (this.#ticks >= this.#ticksDue) {
      this.#settle();
      this.#ticksDue = this.#dueIn();
    }
    this.#touch(slot);
  }

  /** touch counts a hit on the slot's tally and records it in its queue: a mark in protected, a move to the tail of the window, a promotion from probation. */
  #touch(slot: number): void {
    const state = this.#state;
    let b = state[slot] as number;
    if (b < TALLY_MAX * TALLY_ONE) b += TALLY_ONE;
    // A hit in protected only marks the entry (hit once, hit twice or more); #protectedLru moves
    // it to the tail when it comes to the head, once per mark (a two-bit CLOCK, which
    // approximates LRU). Moving it on every hit rewrote the links of two neighbours, entries of
    // random slots, and cost a fifth of a hit's instructions (docs/cache.md).
    const q = b & QUEUE_BITS;
    if (q === PROTECTED) b += REFERENCED - PROTECTED;
    else if (q === REFERENCED) b += REFERENCED_TWICE - REFERENCED;
    state[slot] = b;
    if (q === WINDOW || q === PROBATION) this.#hitOther(slot, q);
  }

  #hitOther(slot: number, q: number): void {
    if (q === WINDOW) {
      this.#moveToTail(this.#window, slot);
    } else if (q === PROBATION) {
      this.#unlink(this.#probation, slot);
      this.#setQueue(slot, PROTECTED);
      this.#push(this.#protected, slot);
      this.#demoteProtected();
    }
  }

  /**
   * frequencyOf is the sketch's estimate for a slot's key, its tallied hits handed over first (as
   * admission reads it).
   */
  frequencyOf(slot: number): number {
    this.#handOver(slot);
    return this.#sketch.frequency(this.#hash[slot] as number);
  }

  /** remove unlinks a slot (delete, expiry) and frees it; the policy forgets it without calling onEvict. */
  remove(slot: number): void {
    this.#handOver(slot);
    this.#release(slot);
  }

  /** setWeight changes a held slot's weight (a replaced value) and evicts until the total fits. */
  setWeight(slot: number, weight: number): void {
    const q = this.#queueOf(slot);
    if (q) q.weight += weight - (this.#weights[slot] as number);
    this.#weights[slot] = weight;
    if (q) {
      this.#increment(slot);
      this.#moveToTail(q, slot);
    }
    this.#evict();
  }

  /** clear forgets every entry and every ghost (the sketch keeps its history) and frees every slot. */
  clear(): void {
    const links = this.#links;
    const state = this.#state;
    for (const q of [this.#window, this.#probation, this.#protected]) {
      for (let s = q.head; s !== END; s = links[(s << 1) | NEXT] as number) this.#handOver(s);
      q.head = q.tail = END;
      q.weight = 0;
    }
    for (let s = 0; s < this.#slots; s++) state[s] = DETACHED;
    this.#free = [];
    this.#slots = 0;
    this.#ghosts.clear();
  }

  /** settle counts the hits tallied in #ticks into the sketch's additions. */
  #settle(): void {
    const n = this.#ticks;
    if (n === 0) return;
    this.#ticks = 0;
    this.#sketch.countAdditions(n);
    this.#ageTallies();
  }

  /**
   * ageTallies halves every slot's tally when the sketch has halved its counters since the last
   * call (at most once between two calls: #settle and #increment each count at most one halving's
   * worth of additions). A halving comes every 10 x capacity additions, so the loop over the
   * slots costs at most a tenth of a byte's work per access; it runs beside the sketch's own
   * halving, which walks a table of 4 bytes per entry of capacity where this walks 1 per slot.
   */
  #ageTallies(): void {
    const resets = this.#sketch.resets;
    if (resets === this.#resets) return;
    this.#resets = resets;
    const state = this.#state;
    for (let s = 0; s < this.#slots; s++) {
      const b = state[s] as number;
      state[s] = ((b >>> 4) * TALLY_ONE) | (b & QUEUE_BITS);
    }
  }

  /** increment records an access to the slot's key in the sketch itself (an add, a replaced value), hits settled first. */
  #increment(slot: number): void {
    this.#settle();
    this.#sketch.increment(this.#hash[slot] as number);
    this.#ageTallies();
    this.#ticksDue = this.#dueIn();
  }

  /** dueIn is how many hits from now the sketch halves (with #ticks settled). */
  #dueIn(): number {
    return Math.max(1, this.#sketch.additionsLeft);
  }

  /** handOver gives the sketch the slot's tallied hits, leaving an empty tally. */
  #handOver(slot: number): void {
    const b = this.#state[slot] as number;
    if (b >= TALLY_ONE) this.#sketch.add(this.#hash[slot] as number, b >>> 3);
    this.#state[slot] = b & QUEUE_BITS;
  }

  /** release unlinks a slot from its queue (if any) and frees it. */
  #release(slot: number): void {
    const q = this.#queueOf(slot);
    if (!q) return;
    this.#unlink(q, slot);
    this.#setQueue(slot, DETACHED);
    this.#free.push(slot);
  }

  #queueOf(slot: number): Queue | undefined {
    return this.#queues[(this.#state[slot] as number) & QUEUE_BITS];
  }

  /** setQueue records that `slot` is in queue (or protected mark) `q`, keeping its tally. */
  #setQueue(slot: number, q: number): void {
    this.#state[slot] = ((this.#state[slot] as number) & ~QUEUE_BITS) | q;
  }

  #push(q: Queue, s: number): void {
    const links = this.#links;
    const tail = q.tail;
    links[(s << 1) | PREV] = tail;
    links[(s << 1) | NEXT] = END;
    if (tail !== END) links[(tail << 1) | NEXT] = s;
    else q.head = s;
    q.tail = s;
    q.weight += this.#weights[s] as number;
  }

  #unlink(q: Queue, s: number): void {
    const links = this.#links;
    const p = links[(s << 1) | PREV] as number;
    const x = links[(s << 1) | NEXT] as number;
    if (p !== END) links[(p << 1) | NEXT] = x;
    else q.head = x;
    if (x !== END) links[(x << 1) | PREV] = p;
    else q.tail = p;
    q.weight -= this.#weights[s] as number;
  }

  #moveToTail(q: Queue, s: number): void {
    const tail = q.tail;
    if (tail === s) return;
    // s has a next (it is not the tail): close the gap, then link s after the old tail. The
    // queue's weight does not change.
    const links = this.#links;
    const p = links[(s << 1) | PREV] as number;
    const x = links[(s << 1) | NEXT] as number;
    links[(x << 1) | PREV] = p;
    if (p !== END) links[(p << 1) | NEXT] = x;
    else q.head = x;
    links[(s << 1) | PREV] = tail;
    links[(s << 1) | NEXT] = END;
    links[(tail << 1) | NEXT] = s;
    q.tail = s;
  }

  /** move unlinks `s` from its queue and pushes it to the tail of `to`. */
  #move(s: number, to: Queue, queue: number): void {
    const q = this.#queueOf(s);
    if (q) this.#unlink(q, s);
    this.#setQueue(s, queue);
    this.#push(to, s);
  }

  /** resize doubles the sketch and the ghost list (a cache bounded by weight now holds more entries than they were sized for). */
  #resize(): void {
    this.#settle();
    this.#capacity = Math.min(2 * this.#capacity, this.#capacityLimit);
    this.#sketch = new FrequencySketch(this.#capacity);
    this.#ghosts = new GhostList(this.#capacity);
    // The new sketch starts afresh, and so do the tallies.
    const state = this.#state;
    for (let s = 0; s < this.#slots; s++) state[s] = (state[s] as number) & QUEUE_BITS;
    this.#resets = this.#sketch.resets;
    this.#ticksDue = this.#dueIn();
  }

  #grow(): void {
    const n = this.#hash.length * 2;
    const links = new Int32Array(2 * n);
    links.set(this.#links);
    this.#links = links;
    const state = new Uint8Array(n);
    state.set(this.#state);
    this.#state = state;
    const hash = new Uint32Array(n);
    hash.set(this.#hash);
    this.#hash = hash;
    const weights = new Float64Array(n);
    weights.set(this.#weights);
    this.#weights = weights;
    const readmit = new Uint8Array(n);
    readmit.set(this.#readmit);
    this.#readmit = readmit;
  }

  #demoteProtected(): void {
    while (this.#protected.weight > this.#protectedMax && this.#protected.head !== END) {
      this.#move(this.#protectedLru(), this.#probation, PROBATION);
    }
  }

  /**
   * protectedLru returns protected's least recently used entry, as a two-bit CLOCK judges it: an
   * entry at the head that was hit since it entered or last came there is moved to the tail with
   * one mark fewer (REFERENCED_TWICE to REFERENCED, REFERENCED to none), and the next one is
   * looked at. Each step removes a mark a hit made, so the work is paid for by the hits
   * (amortised O(1)). END when protected is empty.
   */
  #protectedLru(): number {
    const state = this.#state;
    const q = this.#protected;
    let s = q.head;
    while (s !== END) {
      const b = state[s] as number;
      const mark = b & QUEUE_BITS;
      if (mark === PROTECTED) break;
      state[s] = b - (mark === REFERENCED_TWICE ? REFERENCED_TWICE - REFERENCED : REFERENCED - PROTECTED);
      this.#moveToTail(q, s);
      s = q.head;
    }
    return s;
  }

  #evict(): void {
    // Window overflow moves to probation's tail as candidates, oldest first.
    let candidate = END;
    while (this.#window.weight > this.#windowMax && this.#window.head !== END) {
      const n = this.#window.head;
      this.#move(n, this.#probation, PROBATION);
      if (candidate === END) candidate = n;
    }
    while (this.weight > this.maximum) {
      let victim = this.#probation.head;
      if (victim === candidate) victim = END;
      if (victim === END) victim = this.#protectedLru();
      if (candidate === END) {
        // No newcomer to judge: evict the least recently used of main, then of the window.
        if (victim !== END) this.#evictSlot(victim, VICTIM);
        else this.#evictSlot(this.#window.head, REFUSED);
        continue;
      }
      const next = this.#links[(candidate << 1) | NEXT] as number;
      if (victim !== END && this.#admit(candidate, victim)) this.#evictSlot(victim, VICTIM);
      else this.#evictSlot(candidate, REFUSED);
      candidate = next;
    }
  }

  #admit(candidate: number, victim: number): boolean {
    // An entry heavier than the whole cache is never admitted.
    if ((this.#weights[candidate] as number) > this.maximum) return false;
    const c = this.frequencyOf(candidate);
    const v = this.frequencyOf(victim);
    if (c > v || this.#readmit[candidate] === 1) return true;
    if (c < ADMIT_HASHDOS_THRESHOLD) return false;
    // A warm candidate that ties or loses is still admitted 1 time in 128, so an attacker who
    // inflates a victim's counters with colliding keys cannot keep every newcomer out.
    let x = this.#random;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#random = x;
    return (x & 127) === 0;
  }

  /** evictSlot pushes a slot out, remembering its key as a ghost of the side that lost it. */
  #evictSlot(slot: number, side: typeof REFUSED | typeof VICTIM): void {
    this.#ghosts.record(this.#hash[slot] as number, side);
    this.remove(slot);
    this.#onEvict(slot);
  }

  /**
   * learn sizes the window from a newcomer that is a ghost, as ARC sizes its lists: a key the
   * window pushed out and admission refused is back, so the window was too small to hold it until
   * its next use; the window grows by the weight of the key times max(1, victim ghosts / refused
   * ghosts). A key evicted from the main area to admit a newcomer is back: main was too small,
   * and the window shrinks by the inverse ratio. The ratio makes the step large when the other
   * side's misses dominate the list, as ARC's target moves by |B2| / |B1|. A refused key that is
   * back is also marked for readmission: when it leaves the window it is admitted to main whatever
   * the sketch says, as ARC moves a key found in B1 to T2 (the sketch, which remembers ten times
   * the cache's size of accesses, rates a key back for its second or third time below the old
   * favourites of main; P3 at 131,072 entries: 45.96 % without, 47.11 % with).
   */
  #learn(slot: number): void {
    // A refused ghost counts only if a window that could still grow would have kept it (ARC's
    // bound on B1, |T1| + |B1| <= c): the key refused `age` evictions ago would have been there
    // only in a window `age` entries larger, and the window can grow only into main's room.
    // Older refused ghosts are forgotten and move nothing (docs/cache.md: P12 at 131,072 entries
    // read 32.84 % without the bound, 40.42 % with it, 41.07 % with readmission too).
    const max = this.maximum;
    const room = Math.floor((this.#capacity * (max - this.#windowMax)) / max);
    const side = this.#ghosts.take(this.#hash[slot] as number, room);
    if (side < 0) return;
    if (side === REFUSED) this.#readmit[slot] = 1;
    const refused = this.#ghosts.refused;
    const victims = this.#ghosts.victims;
    const weight = this.#weights[slot] as number;
    let target = this.#windowTarget;
    if (side === REFUSED) target += weight * Math.max(1, victims / Math.max(1, refused));
    else target -= weight * Math.max(1, refused / Math.max(1, victims));
    target = Math.max(1, Math.min(target, max - 1));
    this.#windowTarget = target;
    const amount = Math.round(target) - this.#windowMax;
    if (amount !== 0) this.#adjustWindow(amount);
  }

  #adjustWindow(amount: number): void {
    const max = this.maximum;
    if (amount > 0) {
      const grow = Math.min(amount, max - 1 - this.#windowMax);
      if (grow <= 0) return;
      this.#windowMax += grow;
      this.#protectedMax = Math.floor((max - this.#windowMax) * PERCENT_MAIN_PROTECTED);
      // Main shrank: the least recently used of main move to the window (probation's first, then
      // protected's).
      let moved = 0;
      while (moved < grow) {
        const n = this.#probation.head !== END ? this.#probation.head : this.#protectedLru();
        if (n === END) break;
        this.#move(n, this.#window, WINDOW);
        moved += this.#weights[n] as number;
      }
      this.#demoteProtected();
    } else if (amount < 0) {
      const shrink = Math.min(-amount, this.#windowMax - 1);
      if (shrink <= 0) return;
      this.#windowMax -= shrink;
      this.#protectedMax = Math.floor((max - this.#windowMax) * PERCENT_MAIN_PROTECTED);
      while (this.#window.weight > this.#windowMax && this.#window.head !== END) {
        this.#move(this.#window.head, this.#probation, PROBATION);
      }
    }
  }
}
