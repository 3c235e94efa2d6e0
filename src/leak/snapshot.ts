import { type CallerChain, captureCallerChain } from './caller-chain.js';
import { currentId } from './record.js';
import { liveTasks } from './task-source.js';
import { startTracking, trackingMode } from './tracker.js';

/**
 * Snapshot is a baseline: work alive (or created) before it was taken is ignored by a check that
 * names it, like goleak's IgnoreCurrent.
 */
export interface Snapshot {
  /** Records with an id up to this one existed before the snapshot. */
  readonly recordId: number;
  readonly takenAt: number;
  readonly taskIds: ReadonlySet<number | string>;
}

// The stack of the function that took each snapshot, kept off the public (frozen) object.
const chains = new WeakMap<Snapshot, CallerChain>();

/** callerChainOf returns the stack of the function that took `base` and its callers, if known. */
export function callerChainOf(base: Snapshot | undefined): CallerChain | undefined {
  return base === undefined ? undefined : chains.get(base);
}

/**
 * snapshot returns a baseline for verifyNone: everything alive now is accepted, anything created
 * afterwards must be gone by the check, except what the callers of the function taking the snapshot
 * create after it returns to them (a test runner's own wait on the test). If tracking is not in full
 * mode it switches to full tracking first, so work from before the first snapshot is invisible
 * anyway. Cheap; take one per test, in the test function itself. Dropping a snapshot leaks nothing.
 *
 * @example
 * const base = snapshot();
 * await codeUnderTest();
 * await verifyNone({ baseline: base });
 */
export function snapshot(): Snapshot {
  const mode = trackingMode();
  if (mode !== 'full') startTracking({ mode: 'full' });
  const base: Snapshot = Object.freeze({
    recordId: currentId(),
    takenAt: Date.now(),
    taskIds: new Set(liveTasks().map((t) => t.info.id)),
  });
  const chain = captureCallerChain(snapshot);
  if (chain !== undefined) chains.set(base, chain);
  return base;
}
