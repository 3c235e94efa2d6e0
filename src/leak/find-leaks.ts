import { type CallerChain, type CallerJunction, callerJunction } from './caller-chain.js';
import { type FoldItem, foldLeaks, visibleFrames } from './fold-leaks.js';
import { builtInIgnored, type IgnoreRule, matchesRule } from './ignore-rules.js';
import { framesOf, type Leak, taskLeak, toLeak } from './leak.js';
import type { TrackedRecord } from './record.js';
import type { Snapshot } from './snapshot.js';
import { type Frame, parseStack } from './stack-frames.js';
import { liveTasks } from './task-source.js';
import { abandonedRecords, liveRecords } from './tracker.js';

/** What one check looks at. */
export interface LeakScope {
  readonly baseline?: Snapshot | undefined;
  readonly label?: string | undefined;
  readonly ignore?: readonly IgnoreRule[] | undefined;
  /** Ignore promises created after this id (the check's own caller chain, e.g. `assert.rejects(verifyNone())`). */
  readonly before?: number | undefined;
  /** The stacks at snapshot() and verifyNone(): work their callers made after the call is not in scope. */
  readonly callers?: readonly CallerChain[] | undefined;
}

/**
 * findLeaks lists live and abandoned work in scope: created after the baseline (if any), under the
 * label (if any), not accepted by an ignore rule or the built-in list, and not the caller chain's
 * own (see caller-chain.ts). Tasks are in scope by the label current when they started and by the
 * baseline's list of tasks alive then. Items that are part of another's leak are folded into it
 * (see fold-leaks.ts), so one mistake is one item.
 */
export function findLeaks(scope: LeakScope): Leak[] {
  const now = Date.now();
  const after = scope.baseline?.recordId ?? 0;
  const inScope: Array<{ rec: TrackedRecord; frames: Frame[] }> = [];
  for (const rec of [...liveRecords(), ...abandonedRecords()]) {
    if (rec.id <= after) continue;
    // Only promises: a timer re-armed by leaked work after the call is that work's live trace.
    if (scope.before !== undefined && rec.kind === 'promise' && rec.id > scope.before) continue;
    if (scope.label !== undefined && rec.label !== scope.label) continue;
    inScope.push({ rec, frames: framesOf(rec) });
  }
  const callers = scope.callers?.length ? callersOwn(inScope, scope.callers, after) : undefined;
  const items: FoldItem[] = [];
  for (const { rec, frames } of inScope) {
    if (callers?.has(rec.id)) continue;
    if (builtInIgnored(rec, frames)) continue;
    if (scope.ignore?.some((rule) => matchesRule(rule, rec, frames))) continue;
    items.push({ leak: toLeak(rec, frames, now), rec, frames: visibleFrames(frames) });
  }
  for (const task of liveTasks()) {
    if (scope.baseline?.taskIds.has(task.info.id)) continue;
    if (scope.label !== undefined && task.label !== scope.label) continue;
    if (scope.before !== undefined && task.afterId >= scope.before) continue;
    items.push({
      leak: taskLeak(task, now),
      rec: undefined,
      frames: visibleFrames(parseStack(task.info.stack)),
    });
  }
  return foldLeaks(items);
}

// The ids of records the caller chain made: those whose stack runs into a chain, then, through the
// promise hooks' parent links (creatorId), the promise each of those awaits (F's own promise, a
// runner function's) and every continuation created from one of them. Parents are created before
// their children, so one pass in id order reaches every descendant.
// A record's stack never changes, so each check of one verifyNone call (one `chains` array) reads
// each record's junctions once, however many times it polls.
const junctionCache = new WeakMap<readonly CallerChain[], Map<number, Array<CallerJunction | undefined>>>();

function callersOwn(
  records: ReadonlyArray<{ rec: TrackedRecord; frames: Frame[] }>,
  chains: readonly CallerChain[],
  baselineId: number,
): Set<number> {
  const own = new Set<number>();
  const sorted = [...records].sort((a, b) => a.rec.id - b.rec.id);
  for (const { rec } of sorted) {
    if (rec.creatorId !== undefined && own.has(rec.creatorId)) {
      own.add(rec.id);
      continue;
    }
    // A promise waiting on one made before the snapshot (or before tracking): what F returned.
    const awaitsOlder =
      rec.kind === 'promise' &&
      (rec.parentUntracked === true || (rec.creatorId !== undefined && rec.creatorId <= baselineId));
    let junctions = junctionCache.get(chains)?.get(rec.id);
    if (junctions === undefined) {
      junctions = chains.map((chain) => callerJunction(chain, rec.origin?.stack));
      let cache = junctionCache.get(chains);
      if (cache === undefined) junctionCache.set(chains, (cache = new Map()));
      cache.set(rec.id, junctions);
    }
    const mine = junctions.some(
      (j) => j === 'at-call' || j === 'library' || (j === 'application' && awaitsOlder),
    );
    if (mine) {
      own.add(rec.id);
      if (rec.kind === 'promise' && rec.creatorId !== undefined) own.add(rec.creatorId);
    }
  }
  return own;
}
