// The id -> job index of a memory queue. Most jobs carry an id the queue made itself, a prefix and
// a sequence number; those live in a window of an array indexed by the number, with no hashing and
// no table to grow when a burst of a million jobs waits (bench/queue.bench.ts, the backlog case).
// Ids given by the user, and issued ones the window has moved past, live in a Map.

/** Indexed is what the index stores: a job that knows its id and where the index put it. */
export interface Indexed {
  readonly id: string;
  /** seq is the job's slot number in the window, or 0 when it lives in the Map. Set by the index. */
  seq: number;
}

// The window keeps at least this many slots before it compacts its holes.
const MIN_WINDOW = 4096;

/**
 * JobIndex finds a job by id. It issues ids (`newId`) of the form `<prefix><base36 sequence>`; a
 * job stored under an issued id takes a slot of the window, which slides forward as the oldest
 * jobs leave. A job that stays while far newer ones come and go (a long-running or long-delayed
 * job) is moved to the Map when the window is mostly holes, so the window never holds more than a
 * few slots per live job.
 */
export class JobIndex<T extends Indexed> {
  readonly #prefix: string;
  readonly #map = new Map<string, T>();
  // The window: a ring buffer of slots for sequence numbers base .. base + len - 1.
  #buf: (T | undefined)[] = new Array(16);
  #head = 0;
  #len = 0;
  #base = 1;
  #live = 0;
  #next = 1;
  // The last issued id and its number: the common store right after newId skips parsing.
  #lastId = '';
  #lastSeq = 0;

  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  /** size is the number of jobs indexed. */
  get size(): number {
    return this.#live + this.#map.size;
  }

  /** windowSlots is the number of slots the window holds now, live or holes (for tests). */
  get windowSlots(): number {
    return this.#len;
  }

  /** newId issues an id no job of this index has had. */
  newId(): string {
    for (;;) {
      const seq = this.#next++;
      const id = `${this.#prefix}${seq.toString(36)}`;
      // A user may have chosen an id of this form; the issued one must not collide with it.
      if (this.#map.size > 0 && this.#map.has(id)) continue;
      this.#lastId = id;
      this.#lastSeq = seq;
      return id;
    }
  }

  get(id: string): T | undefined {
    const seq = this.#seqOf(id);
    if (seq !== 0) {
      const j = this.#slot(seq);
      if (j !== undefined) return j;
    }
    return this.#map.size > 0 ? this.#map.get(id) : undefined;
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  /** set indexes job under job.id (which must not be indexed yet) and sets job.seq. */
  set(job: T): void {
    const seq = this.#seqOf(job.id);
    if (seq === 0 || seq < this.#base) {
      job.seq = 0;
      this.#map.set(job.id, job);
      return;
    }
    const i = seq - this.#base;
    while (this.#len <= i) this.#pushSlot();
    this.#buf[(this.#head + i) & (this.#buf.length - 1)] = job;
    job.seq = seq;
    this.#live++;
  }

  /** delete removes job (found through its seq, without parsing its id). */
  delete(job: T): void {
    if (job.seq === 0) {
      if (this.#map.get(job.id) === job) this.#map.delete(job.id);
      return;
    }
    const i = job.seq - this.#base;
    const mask = this.#buf.length - 1;
    if (i < 0 || i >= this.#len || this.#buf[(this.#head + i) & mask] !== job) return;
    this.#buf[(this.#head + i) & mask] = undefined;
    job.seq = 0;
    this.#live--;
    this.#compact();
  }

  // #seqOf is the sequence number of an id this index issued, or 0.
  #seqOf(id: string): number {
    if (id === this.#lastId) return this.#lastSeq;
    const p = this.#prefix;
    if (id.length <= p.length || id.length > p.length + 11 || !id.startsWith(p)) return 0;
    const digits = id.slice(p.length);
    const seq = Number.parseInt(digits, 36);
    // Only the canonical spelling of a number issued so far is an issued id ("01" is not "1").
    if (!(seq >= 1 && seq < this.#next) || seq.toString(36) !== digits) return 0;
    return seq;
  }

  #slot(seq: number): T | undefined {
    const i = seq - this.#base;
    if (i < 0 || i >= this.#len) return undefined;
    return this.#buf[(this.#head + i) & (this.#buf.length - 1)];
  }

  #pushSlot(): void {
    if (this.#len === this.#buf.length) {
      const old = this.#buf;
      const next: (T | undefined)[] = new Array(old.length * 2);
      for (let k = 0; k < this.#len; k++) next[k] = old[(this.#head + k) & (old.length - 1)];
      this.#buf = next;
      this.#head = 0;
    }
    this.#buf[(this.#head + this.#len) & (this.#buf.length - 1)] = undefined;
    this.#len++;
  }

  #shiftSlot(): void {
    const mask = this.#buf.length - 1;
    const j = this.#buf[this.#head];
    this.#buf[this.#head] = undefined;
    this.#head = (this.#head + 1) & mask;
    this.#len--;
    this.#base++;
    if (j !== undefined) {
      // A job the window moves past keeps its index entry, in the Map.
      this.#live--;
      j.seq = 0;
      this.#map.set(j.id, j);
    }
  }

  // #compact drops the holes at the front, and moves the oldest live jobs to the Map while the
  // window is mostly holes.
  #compact(): void {
    const mask = this.#buf.length - 1;
    while (this.#len > 0 && this.#buf[this.#head & mask] === undefined) this.#shiftSlot();
    if (this.#len > MIN_WINDOW && this.#len > 4 * this.#live) {
      while (this.#len > 2 * this.#live) this.#shiftSlot();
      while (this.#len > 0 && this.#buf[this.#head & mask] === undefined) this.#shiftSlot();
    }
  }
}
