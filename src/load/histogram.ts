// A log-linear latency histogram in the manner of HdrHistogram: values in whole microseconds,
// exact below 128 µs, then 64 linear sub-buckets per power of two, so any recorded value is
// reported within 1/64 (1.6%) of itself, in 2,048 counters whatever the number of samples.
import { assertNumber, describe, invalidArg } from '../context/internal.js';

const SUB = 64; // sub-buckets per power of two above the exact range
const EXACT = 2 * SUB; // values below this are counted exactly
const MAX_SHIFT = 30; // top bucket starts at 2^36 µs (about 19 hours); larger values are clamped
const SIZE = EXACT + MAX_SHIFT * SUB;
const MAX_VALUE = EXACT * 2 ** MAX_SHIFT - 1;

function indexOf(us: number): number {
  if (us < EXACT) return us;
  const v = Math.min(us, MAX_VALUE);
  // shift >= 1: v >> shift lands in [SUB, 2 * SUB).
  const shift = Math.floor(Math.log2(v)) - 6;
  return EXACT + (shift - 1) * SUB + (Math.floor(v / 2 ** shift) - SUB);
}

/** The largest value (µs) counted in bucket i. */
function highestOf(i: number): number {
  if (i < EXACT) return i;
  const shift = Math.floor((i - EXACT) / SUB) + 1;
  const mantissa = SUB + ((i - EXACT) % SUB);
  return (mantissa + 1) * 2 ** shift - 1;
}

/**
 * Histogram records latencies and answers percentiles, like HdrHistogram with 2 significant digits:
 * a reported percentile is the highest value of its bucket (never more than the largest recorded
 * value), within 1.6% above the true one. Recording is O(1) and allocation-free; memory is fixed
 * (16 KB) whatever the number of samples. Values are milliseconds; resolution is 1 µs; a value
 * above about 19 hours counts as 19 hours. A bad argument (a latency that is not a finite number
 * >= 0, a percentile outside [0, 100], a string for either) throws a TypeError with code
 * LEASH_ERR_INVALID_ARG and records nothing. Not safe to share across threads.
 */
export class Histogram {
  readonly #counts = new Float64Array(SIZE);
  #count = 0;
  #sumUs = 0;
  #minUs = Number.POSITIVE_INFINITY;
  #maxUs = 0;

  /** record adds one latency of `ms` milliseconds, a finite number >= 0 (else it throws, counting nothing). */
  record(ms: number): void {
    // The load generator's hot path: one typeof and one range test; assertNumber only builds the error.
    if (typeof ms !== 'number' || !(ms >= 0 && ms < Number.POSITIVE_INFINITY)) {
      assertNumber(ms, 'Histogram.record(ms)', 'ms', { min: 0, unit: 'milliseconds' });
    }
    const us = Math.round(ms * 1000);
    this.#counts[indexOf(us)]!++;
    this.#count++;
    this.#sumUs += us;
    if (us < this.#minUs) this.#minUs = us;
    if (us > this.#maxUs) this.#maxUs = us;
  }

  /** count is the number of recorded values. */
  get count(): number {
    return this.#count;
  }

  /** min is the smallest recorded value in ms (0 when empty). */
  get min(): number {
    return this.#count === 0 ? 0 : this.#minUs / 1000;
  }

  /** max is the largest recorded value in ms (0 when empty). */
  get max(): number {
    return this.#maxUs / 1000;
  }

  /** mean is the average recorded value in ms (0 when empty). */
  get mean(): number {
    return this.#count === 0 ? 0 : this.#sumUs / this.#count / 1000;
  }

  /**
   * percentile returns the value in ms at or below which `p` percent of the recorded values lie,
   * HdrHistogram's valueAtPercentile: 0 when empty. `p` is a number from 0 to 100 (0 answers as
   * for the smallest value, 100 gives the largest); anything else throws LEASH_ERR_INVALID_ARG.
   */
  percentile(p: number): number {
    assertNumber(p, 'Histogram.percentile(p)', 'p', { min: 0, max: 100 });
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    let seen = 0;
    for (let i = 0; i < SIZE; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(Math.max(highestOf(i), this.#minUs), this.#maxUs) / 1000;
    }
    return this.#maxUs / 1000;
  }

  /** add merges every value of `other`, another Histogram (else it throws LEASH_ERR_INVALID_ARG), into this one. */
  add(other: Histogram): void {
    if (!(other instanceof Histogram)) {
      throw invalidArg(
        `Histogram.add(other): other must be a Histogram (from leashjs/load), got ${describe(other)}`,
      );
    }
    const c = other.#counts;
    for (let i = 0; i < SIZE; i++) this.#counts[i]! += c[i]!;
    this.#count += other.#count;
    this.#sumUs += other.#sumUs;
    if (other.#count > 0) {
      this.#minUs = Math.min(this.#minUs, other.#minUs);
      this.#maxUs = Math.max(this.#maxUs, other.#maxUs);
    }
  }
}
