import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gcFn: (() => void) | undefined;

// globalThis.gc exists only under --expose-gc. Turning the flag on at run time and fetching gc from
// a fresh context works on every supported Node version, so proofs of abandonment do not depend on
// how the process was started.
function obtainGc(): () => void {
  if (gcFn) return gcFn;
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return (gcFn = exposed);
  setFlagsFromString('--expose-gc');
  gcFn = runInNewContext('gc') as () => void;
  return gcFn;
}

/**
 * collectGarbage runs a full collection, then yields to the event loop twice so FinalizationRegistry
 * callbacks (which V8 queues as a separate task after the collection) have run when it resolves.
 * Every promise collected while pending is then recorded as abandoned.
 */
export async function collectGarbage(): Promise<void> {
  // WeakRef.deref() keeps its target alive until the current job ends, and the checks deref every
  // listener's emitter: collect in a fresh macrotask so those targets can go.
  await new Promise<void>((resolve) => setImmediate(resolve));
  obtainGc()();
  await new Promise<void>((resolve) => setImmediate(resolve));
  await new Promise<void>((resolve) => setTimeout(resolve, 1));
}
