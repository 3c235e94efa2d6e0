// Bounded label values: the names of policies, caches and queues come from user code (and, in the
// worst case, from request data), so each kind keeps at most `max` distinct names and folds the rest
// into `other`. The bound holds by construction, whatever the program does.

/** OTHER is the label value every name past the cap (and every non-string name) is counted under. */
export const OTHER = 'other';

/** MAX_LABEL_LENGTH bounds one label value; longer names are cut (a metric label is no place for prose). */
export const MAX_LABEL_LENGTH = 64;

/** @internal NameCap maps names to at most `max` distinct label values plus `other`. */
export class NameCap {
  readonly #max: number;
  readonly #names = new Set<string>();
  /** overflowed counts the events folded into `other` because the cap was reached. */
  overflowed = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** label returns the label value for `name`: itself (cut to MAX_LABEL_LENGTH) while there is room, else `other`. */
  label(name: unknown): string {
    if (typeof name !== 'string') return OTHER;
    // Keyed by the cut value, so a hostile name of a megabyte is never kept whole.
    const value = name.length > MAX_LABEL_LENGTH ? name.slice(0, MAX_LABEL_LENGTH) : name;
    if (this.#names.has(value)) return value;
    if (this.#names.size >= this.#max) {
      this.overflowed++;
      return OTHER;
    }
    this.#names.add(value);
    return value;
  }

  /** size is how many distinct names have their own label value. */
  get size(): number {
    return this.#names.size;
  }
}
