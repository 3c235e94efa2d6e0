import { AsyncLocalStorage } from 'node:async_hooks';
import { assertFunction, describe, invalidArg } from '../context/internal.js';

// Labels work like pprof labels: a value carried by AsyncLocalStorage through every callback, timer
// and promise started inside withLabel(), stamped on each record the tracker creates. The runner
// plug-ins give every test its own label, so tests that run concurrently are checked separately.
const store = new AsyncLocalStorage<string>();

// The label on leash's own work (verifyNone's waits, the doctor's report timers). Records created
// under it are never tracked, so leash does not report itself.
export const INTERNAL_LABEL = '\0leash-internal';

/**
 * withLabel runs fn with the label `name` attached to everything it starts, directly or through any
 * chain of callbacks, timers and promises (AsyncLocalStorage), and returns what fn returns. Records
 * the tracker creates inside carry the label, so `verifyNone({ label })` and the runner plug-ins can
 * check one unit of work while others run concurrently. Nesting replaces the outer label. Safe to
 * call at any time; it costs one AsyncLocalStorage.run. Nothing leaks if fn throws.
 *
 * @example
 * await withLabel('request 42', () => handle(req));
 * await verifyNone({ label: 'request 42' });
 */
export function withLabel<T>(name: string, fn: () => T): T {
  if (typeof name !== 'string' || name.length === 0 || name === INTERNAL_LABEL) {
    throw invalidArg(`withLabel(name, fn): name must be a non-empty string, got ${describe(name)}`);
  }
  assertFunction(fn, 'withLabel(name, fn)', 'fn');
  return store.run(name, fn);
}

/** currentLabel returns the label of the running code, or undefined outside withLabel. */
export function currentLabel(): string | undefined {
  return store.getStore();
}

/** runInternal runs fn under leash's own label, so nothing it starts is tracked. */
export function runInternal<T>(fn: () => T): T {
  return store.run(INTERNAL_LABEL, fn);
}
