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
  /** Ignore records created after this id (the check's own caller chain, e.g. `assert.rejects(verifyNone())`). */
  readonly before?: number | undefined;
}

/**
 * findLeaks lists live and abandoned work in scope: created after the baseline (if any), under the
 * label (if any), not accepted by an ignore rule or the built-in list. Tasks are matched by the
 * baseline only (leash/task does not carry labels); with a label, the task's own promise stands for it.
 */
export function findLeaks(scope: LeakScope): Leak[] {
  const now = Date.now();
  const after = scope.baseline?.recordId ?? 0;
  const leaks: Leak[] = [];
  const candidates = [...liveRecords(), ...abandonedRecords()];
  for (const rec of candidates) {
    if (rec.id <= after) continue;
    if (scope.before !== undefined && rec.id > scope.before) continue;
    if (scope.label !== undefined && rec.label !== scope.label) continue;
    if (rec.kind === 'promise' && rec.state === 'live' && scope.pending === false) continue;
    const frames = framesOf(rec);
    if (builtInIgnored(rec, frames)) continue;
    if (scope.ignore?.some((rule) => matchesRule(rule, rec, frames))) continue;
    leaks.push(toLeak(rec, frames, now));
  }
  if (scope.label === undefined) {
    for (const task of liveTasks()) {
      if (scope.baseline?.taskIds.has(task.id)) continue;
      leaks.push(taskLeak(task, now));
    }
  }
  return leaks;
}
