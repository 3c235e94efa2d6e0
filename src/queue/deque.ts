// A double-ended queue on a growable ring buffer: O(1) push, shift and unshift, and O(n) remove
// for the rare waiter that leaves from the middle.

/** Deque is a FIFO with unshift; the queue's ready list and waiter lists use it. */
export class Deque<T> {
  #buf: (T | undefined)[] = new Array(16);
  #head = 0;
  #len = 0;

  get length(): number {
    return this.#len;
  }

  push(v: T): void {
    if (this.#len === this.#buf.length) this.#grow();
    this.#buf[(this.#head + this.#len) & (this.#buf.length - 1)] = v;
    this.#len++;
  }

  unshift(v: T): void {
    if (this.#len === this.#buf.length) this.#grow();
    this.#head = (this.#head - 1) & (this.#buf.length - 1);
    this.#buf[this.#head] = v;
    this.#len++;
  }

  shift(): T | undefined {
    if (this.#len === 0) return undefined;
    const v = this.#buf[this.#head];
    this.#buf[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#buf.length - 1);
    this.#len--;
    return v;
  }

  /** remove deletes the first entry identical to `v`; false when absent. */
  remove(v: T): boolean {
    const mask = this.#buf.length - 1;
    for (let i = 0; i < this.#len; i++) {
      if (this.#buf[(this.#head + i) & mask] !== v) continue;
      for (let k = i; k < this.#len - 1; k++)
        this.#buf[(this.#head + k) & mask] = this.#buf[(this.#head + k + 1) & mask];
      this.#buf[(this.#head + this.#len - 1) & mask] = undefined;
      this.#len--;
      return true;
    }
    return false;
  }

  #grow(): void {
    const old = this.#buf;
    const next: (T | undefined)[] = new Array(old.length * 2);
    for (let i = 0; i < this.#len; i++) next[i] = old[(this.#head + i) & (old.length - 1)];
    this.#buf = next;
    this.#head = 0;
  }
}
