// W-TinyLFU, the eviction and admission policy of the memory tier (Einziger, Friedman, Manes,
// "TinyLFU: A Highly Efficient Cache Admission Policy", ACM ToS 2017; the adaptive window of
// Caffeine, "Adaptive Software Cache Management", Middleware 2018).
//
// Three LRU queues share the maximum: a small admission window (1% at first) that every new entry
// enters, and a main area split into probation (20% of main) and protected (80%). An entry pushed
// out of the window becomes a candidate at the tail of probation; while the cache is over its
// maximum, the candidate is compared with probation's least recently used entry (the victim) and
// the one the frequency sketch rates less popular is evicted. A hit in probation promotes the entry
// to protected, whose overflow is demoted back to probation. Every 10 x maximum requests a hill
// climber compares the hit ratio of this sample with the last one and moves the window/main split
// by a step in the direction that helped, the step decaying as it converges and restarting when
// the workload shifts (the hit ratio moves by 5 points or more). Every operation is O(1)
// (amortised): a Map lookup and a few pointer updates.
//
// Weights: queue sizes are in weight units (an entry counts 1 when the cache is bounded by count).
//
// Hits are tallied on the entry, not in the sketch. Incrementing the sketch on every hit was about
// half of a hit's cost (its counters are spread over a table that the entries themselves push out
// of the CPU's caches; docs/cache.md has the measurement), and the sketch is read only when an
// entry is judged for admission or has left. So a hit
// counts toward the sketch's next halving (as an increment would) and adds one to the entry's
// tally, which is aged like the counters (halved per halving since it was counted) and handed to the
// sketch, as that many conservative increments, when the entry is judged, evicted or removed.
// A key the sketch has not seen, or one whose counters another key shares, reads the same as with
// immediate increments except for the tally's rounding at a halving.

import { FrequencySketch, RESETS_MASK } from './frequency-sketch.js';

/** PolicyNode is the part of an entry the policy owns: its links, queue, hash, weight and hit tally. */
export interface PolicyNode {
  hash: number;
  /**
   * tally is the hits not yet handed to the frequency sketch: the sketch's `resets` when they were
   * counted, times 32, plus how many (at most 16). Starts at 0.
   */
  tally: number;
  weight: number;
  queue: number; // WINDOW, PROBATION, PROTECTED, or DETACHED
  prev: PolicyNode | null;
  next: PolicyNode | null;
}

export const WINDOW = 0;
export const PROBATION = 1;
export const PROTECTED = 2;
export const DETACHED = 3;

const PERCENT_MAIN_PROTECTED = 0.8;
const INITIAL_WINDOW = 0.01;
const STEP_PERCENT = 0.0625;
const STEP_DECAY = 0.98;
const RESTART_THRESHOLD = 0.05;
const ADMIT_HASHDOS_THRESHOLD = 6;
const TALLY_MAX = 16; // the sketch's 15 plus the doorkeeper's 1: more cannot change an estimate

class Queue {
  head: PolicyNode | null = null; // least recently used
  tail: PolicyNode | null = null; // most recently used
  weight = 0;

  push(n: PolicyNode): void {
    n.prev = this.tail;
    n.next = null;
    if (this.tail) this.tail.next = n;
    else this.head = n;
    this.tail = n;
    this.weight += n.weight;
  }

  unlink(n: PolicyNode): void {
    if (n.prev) n.prev.next = n.next;
    else this.head = n.next;
    if (n.next) n.next.prev = n.prev;
    else this.tail = n.prev;
    n.prev = null;
    n.next = null;
    this.weight -= n.weight;
  }

  moveToTail(n: PolicyNode): void {
    const tail = this.tail;
    if (tail === n) return;
    // n has a next (it is not the tail): close the gap, then link n after the old tail. The
    // queue's weight does not change.
    const next = n.next as PolicyNode;
    const prev = n.prev;
    next.prev = prev;
    if (prev) prev.next = next;
    else this.head = next;
    n.prev = tail;
    n.next = null;
    (tail as PolicyNode).next = n;
    this.tail = n;
  }
}

/**
 * WTinyLfu decides which entries stay within `maximum` weight. It owns no map and no values: the
 * memory tier finds nodes by key and tells the policy about adds, hits, removals and weight
 * changes; the policy calls `onEvict` for each node it pushes out (synchronously, from add or
 * setWeight), after unlinking it. Not a public export.
 */
export class WTinyLfu<N extends PolicyNode> {
  readonly maximum: number;
  readonly #sketch: FrequencySketch;
  readonly #onEvict: (node: N) => void;
  readonly #window = new Queue();
  readonly #probation = new Queue();
  readonly #protected = new Queue();
  #windowMax: number;
  #protectedMax: number;
  // Hits are counted in one field, #ticks, and settled into the sketch's additions and the hill
  // climber's sample (#settle) when one of them is due to act (a halving, a climb: #ticksDue
  // hits from the last settlement) and before anything else counts toward them: the same
  // halvings and climbs, at the same accesses, as counting each hit into all three.
  #ticks = 0;
  #ticksDue = 1;
  // hill climber
  #hitsInSample = 0;
  #requestsInSample = 0;
  #previousHitRate = 0;
  #stepSize: number;
  readonly #sampleSize: number;
  #random = 0x2545f491;

  constructor(maximum: number, onEvict: (node: N) => void) {
    this.maximum = maximum;
    this.#onEvict = onEvict;
    this.#sketch = new FrequencySketch(Math.min(maximum, 1 << 24));
    this.#windowMax = Math.max(1, Math.round(maximum * INITIAL_WINDOW));
    this.#protectedMax = Math.floor((maximum - this.#windowMax) * PERCENT_MAIN_PROTECTED);
    this.#stepSize = -STEP_PERCENT * maximum;
    this.#sampleSize = this.#sketch.sampleSize;
    this.#ticksDue = this.#dueIn();
  }

  /** weight is the total weight of the entries the policy holds. */
  get weight(): number {
    return this.#window.weight + this.#probation.weight + this.#protected.weight;
  }

  /** windowMaximum is the current size of the admission window, for tests and the bench. */
  get windowMaximum(): number {
    return this.#windowMax;
  }

  /** recordMiss counts a lookup that found nothing, for the hill climber. */
  recordMiss(): void {
    this.#settle();
    if (++this.#requestsInSample >= this.#sampleSize) this.#climb();
    this.#ticksDue = this.#dueIn();
  }

  /** add links a new node (hash and weight set) and evicts until the total fits. */
  add(node: N): void {
    this.#settle();
    this.#sketch.increment(node.hash);
    this.#ticksDue = this.#dueIn();
    node.tally = this.#sketch.resets << 5;
    node.queue = WINDOW;
    this.#window.push(node);
    this.#evict();
  }

  /** hit records an access to a node the policy holds. */
  hit(node: N): void {
    const due = ++this.#ticks >= this.#ticksDue;
    if (due) this.#settle();
    const resets = this.#sketch.resets;
    const t = node.tally;
    if (t >>> 5 === resets) {
      if ((t & 31) < TALLY_MAX) node.tally = t + 1;
    } else {
      node.tally = (resets << 5) | Math.min(TALLY_MAX, aged(t, resets) + 1);
    }
    switch (node.queue) {
      case WINDOW:
        this.#window.moveToTail(node);
        break;
      case PROBATION:
        this.#probation.unlink(node);
        node.queue = PROTECTED;
        this.#protected.push(node);
        this.#demoteProtected();
        break;
      case PROTECTED:
        this.#protected.moveToTail(node);
        break;
    }
    if (due) {
      if (this.#requestsInSample >= this.#sampleSize) this.#climb();
      this.#ticksDue = this.#dueIn();
    }
  }

  /**
   * frequencyOf is the sketch's estimate for a node's key, its tallied hits handed over first (as
   * admission reads it).
   */
  frequencyOf(node: N): number {
    this.#handOver(node);
    return this.#sketch.frequency(node.hash);
  }

  /** remove unlinks a node (delete, expiry); the policy forgets it without calling onEvict. */
  remove(node: N): void {
    this.#handOver(node);
    this.#queueOf(node)?.unlink(node);
    node.queue = DETACHED;
  }

  /** setWeight changes a held node's weight (a replaced value) and evicts until the total fits. */
  setWeight(node: N, weight: number): void {
    const q = this.#queueOf(node);
    if (q) q.weight += weight - node.weight;
    node.weight = weight;
    if (q) {
      this.#settle();
      this.#sketch.increment(node.hash);
      this.#ticksDue = this.#dueIn();
      q.moveToTail(node);
    }
    this.#evict();
  }

  /** clear forgets every node (the sketch keeps its history). */
  clear(): void {
    for (const q of [this.#window, this.#probation, this.#protected]) {
      for (let n = q.head; n; ) {
        const next = n.next;
        this.#handOver(n);
        n.prev = n.next = null;
        n.queue = DETACHED;
        n = next;
      }
      q.head = q.tail = null;
      q.weight = 0;
    }
  }

  /** settle counts the hits tallied in #ticks into the sketch's additions and the climber's sample. */
  #settle(): void {
    const n = this.#ticks;
    if (n === 0) return;
    this.#ticks = 0;
    this.#sketch.countAdditions(n);
    this.#hitsInSample += n;
    this.#requestsInSample += n;
  }

  /** dueIn is how many hits from now the sketch halves or the climber climbs, whichever is first (with #ticks settled). */
  #dueIn(): number {
    return Math.max(1, Math.min(this.#sketch.additionsLeft, this.#sampleSize - this.#requestsInSample));
  }

  /** handOver gives the sketch the node's tallied hits (aged), leaving an empty tally. */
  #handOver(node: PolicyNode): void {
    const t = node.tally;
    const resets = this.#sketch.resets;
    if ((t & 31) !== 0) this.#sketch.add(node.hash, aged(t, resets));
    node.tally = resets << 5;
  }

  #queueOf(node: PolicyNode): Queue | undefined {
    return node.queue === WINDOW
      ? this.#window
      : node.queue === PROBATION
        ? this.#probation
        : node.queue === PROTECTED
          ? this.#protected
          : undefined;
  }

  #demoteProtected(): void {
    while (this.#protected.weight > this.#protectedMax && this.#protected.head) {
      const n = this.#protected.head;
      this.#protected.unlink(n);
      n.queue = PROBATION;
      this.#probation.push(n);
    }
  }

  #evict(): void {
    // Window overflow moves to probation's tail as candidates, oldest first.
    let candidate: PolicyNode | null = null;
    while (this.#window.weight > this.#windowMax && this.#window.head) {
      const n = this.#window.head;
      this.#window.unlink(n);
      n.queue = PROBATION;
      this.#probation.push(n);
      if (!candidate) candidate = n;
    }
    while (this.weight > this.maximum) {
      let victim = this.#probation.head;
      if (victim === candidate) victim = null;
      if (!victim) victim = this.#protected.head;
      if (!candidate) {
        // No newcomer to judge: evict the least recently used of main, then of the window.
        this.#evictNode((victim ?? this.#probation.head ?? this.#window.head) as N);
        continue;
      }
      if (!victim) {
        const next: PolicyNode | null = candidate.next;
        this.#evictNode(candidate as N);
        candidate = next;
        continue;
      }
      const next: PolicyNode | null = candidate.next;
      if (this.#admit(candidate, victim)) {
        this.#evictNode(victim as N);
      } else {
        this.#evictNode(candidate as N);
      }
      candidate = next;
    }
  }

  #admit(candidate: PolicyNode, victim: PolicyNode): boolean {
    // An entry heavier than the whole cache is never admitted.
    if (candidate.weight > this.maximum) return false;
    const c = this.frequencyOf(candidate as N);
    const v = this.frequencyOf(victim as N);
    if (c > v) return true;
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

  #evictNode(node: N): void {
    this.#handOver(node);
    this.#queueOf(node)?.unlink(node);
    node.queue = DETACHED;
    this.#onEvict(node);
  }

  #climb(): void {
    const requests = this.#requestsInSample;
    const hitRate = this.#hitsInSample / requests;
    const delta = hitRate - this.#previousHitRate;
    const amount = delta >= 0 ? this.#stepSize : -this.#stepSize;
    this.#stepSize =
      Math.abs(delta) >= RESTART_THRESHOLD
        ? STEP_PERCENT * this.maximum * (amount >= 0 ? 1 : -1)
        : STEP_DECAY * amount;
    this.#previousHitRate = hitRate;
    this.#hitsInSample = 0;
    this.#requestsInSample = 0;
    this.#adjustWindow(Math.trunc(amount));
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
        const n = this.#probation.head ?? this.#protected.head;
        if (!n) break;
        this.#queueOf(n)?.unlink(n);
        n.queue = WINDOW;
        this.#window.push(n);
        moved += n.weight;
      }
      this.#demoteProtected();
    } else if (amount < 0) {
      const shrink = Math.min(-amount, this.#windowMax - 1);
      if (shrink <= 0) return;
      this.#windowMax -= shrink;
      this.#protectedMax = Math.floor((max - this.#windowMax) * PERCENT_MAIN_PROTECTED);
      while (this.#window.weight > this.#windowMax && this.#window.head) {
        const n = this.#window.head;
        this.#window.unlink(n);
        n.queue = PROBATION;
        this.#probation.push(n);
      }
    }
  }
}

/** aged is the count in tally `t` halved once per sketch reset since it was counted. */
function aged(t: number, resets: number): number {
  const halvings = (resets - (t >>> 5)) & RESETS_MASK;
  return halvings > 4 ? 0 : (t & 31) >>> halvings;
}
