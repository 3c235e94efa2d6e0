// Test-only: a Context leash did not build. Not part of the package (excluded from the build).
import type { Context } from '../context.js';

/** wrapping is a foreign context that delegates everything to `inner`, as a user's wrapper type would. */
export function wrapping(inner: Context): Context {
  return {
    get deadline() {
      return inner.deadline;
    },
    get err() {
      return inner.err;
    },
    get signal() {
      return inner.signal;
    },
    get done() {
      return inner.done;
    },
    value: (key) => inner.value(key),
  };
}
