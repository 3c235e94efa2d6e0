import { type FoldItem, foldLeaks, visibleFrames } from './fold-leaks.js';
import { isLeashMachinery } from './ignore-rules.js';
import { framesOf, groupLeaks, type Leak, type LeakGroup, taskLeak, toLeak } from './leak.js';
import { parseStack } from './stack-frames.js';
import { liveTasks, type TrackedTask } from './task-source.js';
import { liveRecords, trackingMode } from './tracker.js';

/** DashboardTask is one live task as the dashboard's tree shows it. */
export interface DashboardTask {
  readonly id: number;
  readonly name: string;
  readonly parentId: number | undefined;
  readonly state: string;
  readonly ageMs: number;
  /** Where `go` was called ("path:line:column"), or '<no stack>' while task stacks are off. */
  readonly site: string;
  /** Where it is blocked now, when the tracker's promises show a later line than `site`. */
  readonly blockedAt: string | undefined;
  readonly label: string | undefined;
}

/** FlameNode is one frame of the blocked-tasks flame graph: `value` tasks pass through it. */
export interface FlameNode {
  readonly name: string;
  value: number;
  readonly children: FlameNode[];
}

/** DashboardState is what `GET <prefix>/dashboard/state` returns. */
export interface DashboardState {
  readonly now: number;
  readonly tracking: string;
  /** Whether any live task has a creation stack (task stacks on). */
  readonly stacks: boolean;
  readonly taskCount: number;
  /** The first `maxTasks` live tasks (oldest first); `taskCount` says how many there are. */
  readonly tasks: readonly DashboardTask[];
  /** Everything alive, grouped by creation stack (profile's debug=1), largest first. */
  readonly groups: readonly LeakGroup[];
  /** Live tasks folded by the stack they are blocked at, root first (pprof's goroutine view). */
  readonly flame: FlameNode;
}

/**
 * dashboardState gathers what the dashboard shows now: the live tasks (with the line each is
 * blocked at, from fold-leaks), everything alive grouped by creation stack (profile's groups, after
 * folding each mistake to one item), and the flame graph of blocked tasks. Read-only; cost linear in
 * what is alive; at most `maxTasks` tasks are listed.
 */
export function dashboardState(maxTasks: number): DashboardState {
  const now = Date.now();
  const items: FoldItem[] = [];
  // Resources, promises and listeners first, as findLeaks orders them.
  for (const rec of liveRecords()) {
    const frames = framesOf(rec);
    if (isLeashMachinery(rec, frames)) continue;
    items.push({ leak: toLeak(rec, frames, now), rec, frames: visibleFrames(frames) });
  }
  // Tasks started at the same line under the same name fold alike, so only one of each kind goes
  // through foldLeaks (its rule 3 compares every task with every promise: 10,000 workers from one
  // line would cost 10,000 times as much for the same answer); the others copy its result.
  const kinds = new Map<string, { leak: Leak; members: TrackedTask[] }>();
  let stacks = false;
  for (const task of liveTasks()) {
    const key = `${task.info.name}\n${task.info.stack ?? ''}`;
    let kind = kinds.get(key);
    if (kind === undefined) {
      const leak = taskLeak(task, now);
      kinds.set(key, (kind = { leak, members: [] }));
      items.push({ leak, rec: undefined, frames: visibleFrames(parseStack(task.info.stack)) });
    }
    kind.members.push(task);
    if (task.info.stack !== undefined) stacks = true;
  }
  const folded = foldLeaks(items);
  const foldedTasks = new Map<number | string, Leak>();
  const all: Leak[] = [];
  for (const leak of folded) {
    if (leak.kind === 'task') foldedTasks.set(leak.id, leak);
    else all.push(leak);
  }
  const flame: FlameNode = { name: 'all', value: 0, children: [] };
  const tasks: DashboardTask[] = [];
  for (const { leak: first, members } of kinds.values()) {
    const blocked = foldedTasks.get(first.id) ?? first;
    // Root first, as pprof draws it: the outermost caller, down to the blocked line, then the task.
    const path = blocked.stack.length > 0 ? [...blocked.stack].reverse() : ['<no stack>'];
    for (const { info, label } of members) {
      const ageMs = Math.max(0, now - info.startedAt);
      all.push({ ...blocked, id: info.id, state: info.state, ageMs, creatorId: info.parentId, label });
      addPath(flame, [...path, `${first.type} [${info.state}]`]);
      tasks.push({
        id: info.id,
        name: first.type,
        parentId: info.parentId,
        state: info.state,
        ageMs,
        site: first.site,
        blockedAt: blocked.site !== first.site ? blocked.site : undefined,
        label,
      });
    }
  }
  tasks.sort((a, b) => a.id - b.id);
  return {
    now,
    tracking: trackingMode() ?? 'off',
    stacks,
    taskCount: tasks.length,
    tasks: tasks.slice(0, maxTasks),
    groups: groupLeaks(all).slice(0, 200),
    flame,
  };
}

function addPath(root: FlameNode, path: readonly string[]): void {
  root.value++;
  let node = root;
  for (const name of path) {
    let child = node.children.find((c) => c.name === name);
    if (child === undefined) {
      child = { name, value: 0, children: [] };
      node.children.push(child);
    }
    child.value++;
    node = child;
  }
}
