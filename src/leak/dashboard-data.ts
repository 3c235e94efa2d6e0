import { type FoldItem, foldLeaks, visibleFrames } from './fold-leaks.js';
import { isLeashMachinery } from './ignore-rules.js';
import { framesOf, groupLeaks, type LeakGroup, taskLeak, toLeak } from './leak.js';
import { parseStack } from './stack-frames.js';
import { liveTasks } from './task-source.js';
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
  for (const rec of liveRecords()) {
    const frames = framesOf(rec);
    if (isLeashMachinery(rec, frames)) continue;
    items.push({ leak: toLeak(rec, frames, now), rec, frames: visibleFrames(frames) });
  }
  const tracked = liveTasks();
  const created = new Map<number, string>();
  let stacks = false;
  for (const task of tracked) {
    const leak = taskLeak(task, now);
    created.set(task.info.id, leak.site);
    if (task.info.stack !== undefined) stacks = true;
    items.push({ leak, rec: undefined, frames: visibleFrames(parseStack(task.info.stack)) });
  }
  const folded = foldLeaks(items);
  const flame: FlameNode = { name: 'all', value: 0, children: [] };
  const tasks: DashboardTask[] = [];
  for (const leak of folded) {
    if (leak.kind !== 'task') continue;
    const id = leak.id as number;
    const site = created.get(id) ?? leak.site;
    // Root first, as pprof draws it: the outermost caller, down to the blocked line, then the task.
    const path = leak.stack.length > 0 ? [...leak.stack].reverse() : ['<no stack>'];
    path.push(`${leak.type} [${leak.state}]`);
    addPath(flame, path);
    tasks.push({
      id,
      name: leak.type,
      parentId: typeof leak.creatorId === 'number' ? leak.creatorId : undefined,
      state: leak.state,
      ageMs: leak.ageMs,
      site,
      blockedAt: leak.site !== site ? leak.site : undefined,
      label: leak.label,
    });
  }
  tasks.sort((a, b) => a.id - b.id);
  return {
    now,
    tracking: trackingMode() ?? 'off',
    stacks,
    taskCount: tasks.length,
    tasks: tasks.slice(0, maxTasks),
    groups: groupLeaks(folded).slice(0, 200),
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
