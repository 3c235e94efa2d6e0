// The seeded pseudo-random generator behind every chaos decision: mulberry32, 32 bits of state, one
// multiply-xorshift round per number. Not for cryptography; chosen because it is small, fast and
// gives the same sequence for the same seed on every platform and Node version (it uses only
// Math.imul and 32-bit integer operations, whose results the language fixes).

/**
 * mulberry32 returns a generator of numbers in [0, 1) seeded with `seed` (an integer from 0 to
 * 2^32 - 1). The same seed gives the same sequence, in every process and on every platform. Each
 * generator has its own state; nothing is shared.
 *
 * @example
 * const next = mulberry32(42);
 * console.log(next(), next()); // the same two numbers on every run
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
