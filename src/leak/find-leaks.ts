import { builtInIgnored, type IgnoreRule, matchesRule } from './ignore-rules.js';
import { framesOf, type Leak, taskLeak, toLeak } from './leak.js';
import type { Snapshot } from './snapshot.js';
import { liveTasks } from './task-source.js';
import { abandonedRecords, liveRecords } from './tracker.js';

/** What one check looks at. */
export interface LeakScope {
  readonly baseline?: Snapshot | undefined;
  readonly label?: string | undefined;
  readonly ignore?: readonly IgnoreRule[] | undefined;
  /** Report promises that are pending but still reachable (default true). */
  readonly pending?: boolean;
  /** Ignore promises created after this id (the check's own caller chain, e.g. `assert.rejects(verifyNone())`). */
  readonly before?: number | undefined;
}

/**
 * findLeaks lists live and abandoned work in scope: created after the baseline (if any), under the
 * label (if any), not accepted by an ignore rule or the built-in list. Tasks are in scope by the
 * label current when they started and by the baseline's list of tasks alive then.
 */
export function findLeaks(scope: LeakScope): Leak[] {
  const now = Date.now();
  const after = scope.baseline?.recordId ?? 0;
  const leaks: Leak[] = [];
  const candidates = [...liveRecords(), ...abandonedRecords()];
  for (const rec of candidates) {
    if (rec.id <= after) continue;
    // Only promises: a timer re-armed by leaked work after the call is that work's live trace.
    if (scope.before !== undefined && rec.kind === 'promise' && rec.id > scope.before) continue;
    if (scope.label !== undefined && rec.label !== scope.label) continue;
    if (rec.kind === 'promise' && rec.state === 'live' && scope.pending === false) continue;
    const frames = framesOf(rec);
    if (builtInIgnored(rec, frames)) continue;
    if (scope.ignore?.some((rule) => matchesRule(rule, rec, frames))) continue;
    leaks.push(toLeak(rec, frames, now));
  }
  for (const task of liveTasks()) {
    if (scope.baseline?.taskIds.has(task.info.id)) continue;
    if (scope.label !== undefined && task.label !== scope.label) continue;
    if (scope.before !== undefined && task.afterId >= scope.before) continue;
    leaks.push(taskLeak(task, now));
  }
  return leaks;
}
