// A binary min-heap of values keyed by a time: the delayed jobs, earliest first.

/** DelayHeap orders entries by `at` (epoch ms), earliest on top. */
export class DelayHeap<T> {
  readonly #items: { at: number; value: T }[] = [];

  get length(): number {
    return this.#items.length;
  }

  peek(): { at: number; value: T } | undefined {
    return this.#items[0];
  }

  push(value: T, at: number): void {
    const a = this.#items;
    a.push({ at, value });
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((a[p] as { at: number }).at <= at) break;
      [a[i], a[p]] = [a[p] as { at: number; value: T }, a[i] as { at: number; value: T }];
      i = p;
    }
  }

  pop(): { at: number; value: T } | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    a[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && (a[l] as { at: number }).at < (a[m] as { at: number }).at) m = l;
      if (r < a.length && (a[r] as { at: number }).at < (a[m] as { at: number }).at) m = r;
      if (m === i) break;
      [a[i], a[m]] = [a[m] as { at: number; value: T }, a[i] as { at: number; value: T }];
      i = m;
    }
    return top;
  }
}
