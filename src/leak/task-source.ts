import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { setTaskStacks, type TaskInfo, taskStacksEnabled, tasks } from '../task/index.js';
import { currentLabel, INTERNAL_LABEL } from './labels.js';
import { currentId } from './record.js';

// leashjs/task publishes each task's start and end on diagnostics channels; leashjs/leak observes them
// (rather than reaching into the registry) to stamp each task with the label and record id current
// when it started, so label and baseline scopes apply to tasks as they do to resources.
interface TaskMeta {
  readonly label: string | undefined;
  readonly afterId: number;
}

const meta = new Map<number, TaskMeta>();
let watching = false;

/** TaskEvent is what leashjs/leak reads from a `leash:task:start` or `leash:task:end` message. */
export interface TaskEvent {
  readonly id: number;
  readonly name: string | undefined;
  readonly parentId: number | undefined;
}

/**
 * readTaskEvent reads a task channel message defensively: the frozen payload
 * `{ id, name, parentId, ... }` that leashjs/task publishes, or the older `{ task }` wrapper. It
 * copies the three fields it needs and keeps nothing else, so a subscriber never holds on to (or
 * changes) what the task layer published. Returns undefined for anything else.
 */
export function readTaskEvent(msg: unknown): TaskEvent | undefined {
  try {
    if (typeof msg !== 'object' || msg === null) return undefined;
    const source = (msg as { task?: unknown }).task ?? msg;
    const { id, name, parentId } = source as { id?: unknown; name?: unknown; parentId?: unknown };
    if (typeof id !== 'number') return undefined;
    return {
      id,
      name: typeof name === 'string' ? name : undefined,
      parentId: typeof parentId === 'number' ? parentId : undefined,
    };
  } catch {
    return undefined;
  }
}

function onStart(msg: unknown): void {
  const task = readTaskEvent(msg);
  if (task !== undefined) meta.set(task.id, { label: currentLabel(), afterId: currentId() });
}

function onEnd(msg: unknown): void {
  const task = readTaskEvent(msg);
  if (task !== undefined) meta.delete(task.id);
}

// Whether task stacks were on before the tracker turned them on (LEASH_TASK_STACKS=1, or the
// application's own setTaskStacks(true)): stopTracking puts that back instead of forcing them off.
let stacksBefore: boolean | undefined;

/** watchTasks subscribes to task start and end and turns on task creation stacks; idempotent. */
export function watchTasks(stacks: boolean): void {
  stacksBefore ??= taskStacksEnabled();
  setTaskStacks(stacks || stacksBefore);
  if (watching) return;
  watching = true;
  subscribe('leash:task:start', onStart);
  subscribe('leash:task:end', onEnd);
}

/** unwatchTasks undoes watchTasks, leaving task stacks as they were before it. */
export function unwatchTasks(): void {
  if (stacksBefore !== undefined) setTaskStacks(stacksBefore);
  stacksBefore = undefined;
  if (!watching) return;
  watching = false;
  unsubscribe('leash:task:start', onStart);
  unsubscribe('leash:task:end', onEnd);
  meta.clear();
}

/** TrackedTask is a live task with what the tracker saw when it started (if it was watching). */
export interface TrackedTask {
  readonly info: TaskInfo;
  readonly label: string | undefined;
  /** The newest record id when the task started; 0 when it started before tracking. */
  readonly afterId: number;
}

/** liveTasks returns leashjs/task's live tasks, except leash's own. */
export function liveTasks(): TrackedTask[] {
  const out: TrackedTask[] = [];
  for (const info of tasks()) {
    const m = meta.get(info.id);
    if (m?.label === INTERNAL_LABEL) continue;
    out.push({ info, label: m?.label, afterId: m?.afterId ?? 0 });
  }
  return out;
}
