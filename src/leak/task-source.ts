import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { setTaskStacks, type TaskInfo, tasks } from '../task/index.js';
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

function onStart(msg: unknown): void {
  const task = (msg as { task?: { id?: number } }).task;
  if (typeof task?.id === 'number') meta.set(task.id, { label: currentLabel(), afterId: currentId() });
}

function onEnd(msg: unknown): void {
  const task = (msg as { task?: { id?: number } }).task;
  if (typeof task?.id === 'number') meta.delete(task.id);
}

/** watchTasks subscribes to task start and end and turns on task creation stacks; idempotent. */
export function watchTasks(stacks: boolean): void {
  setTaskStacks(stacks);
  if (watching) return;
  watching = true;
  subscribe('leash:task:start', onStart);
  subscribe('leash:task:end', onEnd);
}

/** unwatchTasks undoes watchTasks. */
export function unwatchTasks(): void {
  if (!watching) return;
  watching = false;
  unsubscribe('leash:task:start', onStart);
  unsubscribe('leash:task:end', onEnd);
  setTaskStacks(false);
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
