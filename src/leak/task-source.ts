// leash/leak reads leash tasks from leash/task's registry when that layer is present. It is loaded
// by a computed specifier so leash/leak still works (without tasks) in a build that lacks it.
/** The fields of leash/task's TaskInfo that leash/leak reads. */
export interface TaskInfoLike {
  readonly id: number | string;
  readonly name?: string;
  readonly parentId?: number | string | undefined;
  readonly state: string;
  readonly startedAt: number;
  readonly stack?: string | undefined;
}

interface TaskApi {
  tasks(): TaskInfoLike[];
}

const specifier = '../task/index.js';
let api: TaskApi | undefined;
try {
  const mod = (await import(specifier)) as Partial<TaskApi>;
  if (typeof mod.tasks === 'function') api = mod as TaskApi;
} catch {
  api = undefined;
}

/** liveTasks returns leash/task's running tasks, or [] when leash/task is not available. */
export function liveTasks(): TaskInfoLike[] {
  try {
    return api?.tasks() ?? [];
  } catch {
    return [];
  }
}
