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

/**
 * snapshot returns a baseline for verifyNone: everything alive now is accepted, anything created
 * afterwards must be gone by the check. If tracking is not in full mode it switches to full
 * tracking first, so work from before the first snapshot is invisible anyway. Cheap; take one per
 * test. Dropping a snapshot leaks nothing.
 *
 * @example
 * const base = snapshot();
 * await codeUnderTest();
 * await verifyNone({ baseline: base });
 */
export function snapshot(): Snapshot {
  const mode = trackingMode();
  if (mode !== 'full') startTracking({ mode: 'full' });
  return Object.freeze({
    recordId: currentId(),
    takenAt: Date.now(),
    taskIds: new Set(liveTasks().map((t) => t.info.id)),
  });
}
