import { AsyncLocalStorage } from 'node:async_hooks';
import { channel, subscribe } from 'node:diagnostics_channel';
import type { Context } from '../context/index.js';
import { assertContext } from './assert-context.js';
import { invalidArg } from './errors.js';

/**
 * TaskState says where a live task is. `running` means it is not blocked in a leash operation;
 * the others name the operation it is blocked in, so a profile shows where each task is stuck.
 * A settled task's handle reads `done` or `failed`; settled tasks are never in `tasks()`.
 */
export type TaskState =
  | 'running'
  | 'sleeping'
  | 'chan send'
  | 'chan receive'
  | 'select'
  | 'group wait'
  | 'io'
  | 'done'
  | 'failed';

/**
 * TaskHandle is what `go` returns. `state` is live. `done` is created on first read: reading it
 * is how a caller takes responsibility for the task's outcome (see `go` on unobserved failures).
 */
export interface TaskHandle<T = unknown> {
  readonly id: number;
  readonly name: string;
  readonly state: TaskState;
  readonly done: Promise<T>;
}

/**
 * TaskInfo is one entry of the `tasks()` snapshot. `parentId` is the id of the task that called
 * `go` (undefined at top level). `startedAt` is epoch ms (as `Date.now()`). `stack` is the creation
 * stack, present only while stacks are enabled (`setTaskStacks(true)` or `LEASH_TASK_STACKS=1`).
 */
export interface TaskInfo {
  readonly id: number;
  readonly name: string;
  readonly parentId: number | undefined;
  readonly state: TaskState;
  readonly startedAt: number;
  readonly stack?: string;
}

/** TaskOwner is told when a task it started settles instead of the unobserved-failure report (Group). */
export interface TaskOwner {
  taskSettled(ok: boolean, result: unknown): void;
}

const PENDING = 0;
const FULFILLED = 1;
const REJECTED = 2;

// The handle is the registry entry: one object per task, linked into an intrusive list so that
// register and unregister are O(1) with no hashing. Fields are public on the class but the class is
// not exported; users see the TaskHandle interface.
export class Task<T = unknown> implements TaskHandle<T> {
  readonly id: number;
  readonly name: string;
  readonly parentId: number | undefined;
  readonly startedAt: number;
  state: TaskState = 'running';
  prev: Task | undefined = undefined;
  next: Task | undefined = undefined;
  owner: TaskOwner | undefined;
  site: { stack?: string } | undefined = undefined;
  status = PENDING;
  result: unknown = undefined;
  // The promise of `run` below. It is handed out as `done`, unless the task failed before anyone
  // read `done`: then `run` resolved it (the failure went to the unobserved report) and `done`
  // is a separate rejected promise.
  run: Promise<T> | undefined = undefined;
  observed = false;
  failed: Promise<T> | undefined = undefined;
  rethrown = false;
  // The blocking operations pending in this task, oldest first, as flat [token, state] pairs:
  // `state` shows the most recent one still pending, so several concurrent waits in one task
  // (Promise.all of a recv and a sleep) never read `running` while one of them is still blocked.
  waits: unknown[] | undefined = undefined;

  constructor(id: number, name: string, parentId: number | undefined, owner: TaskOwner | undefined) {
    this.id = id;
    this.name = name;
    this.parentId = parentId;
    this.owner = owner;
    this.startedAt = Date.now();
  }

  get done(): Promise<T> {
    this.observed = true;
    if (this.status === REJECTED && !this.rethrown) {
      this.failed ??= Promise.reject(this.result);
      return this.failed;
    }
    return this.run!;
  }
}

const store = new AsyncLocalStorage<Task>();
let head: Task | undefined;
let live = 0;
let nextId = 1;
let stacks = process.env.LEASH_TASK_STACKS === '1';

let watchingWaits = false;

const startChannel = channel('leash:task:start');
const endChannel = channel('leash:task:end');
const unhandledChannel = channel('leash:task:unhandled');

/**
 * setTaskStacks turns creation-stack capture on or off for tasks started from now on. Off by
 * default (capturing a stack costs microseconds per `go`); `LEASH_TASK_STACKS=1` turns it on at
 * startup; `leashjs/leak` can turn it on for a debug session. Safe to call at any time.
 */
export function setTaskStacks(enabled: boolean): void {
  stacks = enabled;
}

/** taskStacksEnabled reports whether `go` currently captures creation stacks. */
export function taskStacksEnabled(): boolean {
  return stacks;
}

/**
 * go runs `fn(ctx)` as a tracked task and returns its handle at once. The task is in the registry
 * (`tasks()`, `taskCount()`) from this call until its promise settles. Its parent is the task
 * whose code called `go`, found through AsyncLocalStorage.
 *
 * A task that fails while nobody has read its `done` is reported, never swallowed: unless `done`
 * is read by the end of the current event-loop turn (a `setImmediate` after the failure), leash
 * publishes `{ task, error }` on the diagnostics channel `leash:task:unhandled` and emits a process
 * warning with code `LEASH_WARN_TASK_UNHANDLED`. Once `done` has been read, the caller owns the
 * outcome, and a rejection nobody handles is Node's ordinary unhandled rejection.
 *
 * go does not cancel anything by itself: the task must watch `ctx` (every blocking leash operation
 * does). A task that ignores its context is the leak `leashjs/leak` reports.
 *
 * @example
 * const [ctx, cancel] = withTimeout(background(), 1000);
 * const h = go(ctx, async (ctx) => fetchAll(ctx), { name: 'fetch-all' });
 * const rows = await h.done;
 * cancel();
 */
export function go<T>(
  ctx: Context,
  fn: (ctx: Context) => Promise<T>,
  opts?: { name?: string },
): TaskHandle<T> {
  if (typeof fn !== 'function')
    throw invalidArg(`go: fn must be a function (ctx) => Promise, got ${typeof fn}`);
  assertContext(ctx, 'go');
  return spawn(ctx, fn, opts?.name, undefined, stacks ? captureSite(go) : undefined);
}

/**
 * captureSite records the stack above `entry` (the public function the user called), or returns
 * undefined when stacks are off. captureStackTrace is the costly part (microseconds); the string is
 * formatted only when read.
 */
export function captureSite(entry: Function): { stack?: string } | undefined {
  if (!stacks) return undefined;
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, entry);
  return holder;
}

/**
 * spawn is `go` for the layer's own use: `owner` (a Group) is told the outcome instead of the
 * unobserved-failure report; `site` is the creation stack from `captureSite`.
 */
export function spawn<T>(
  ctx: Context,
  fn: (ctx: Context) => Promise<T>,
  name: string | undefined,
  owner: TaskOwner | undefined,
  site: { stack?: string } | undefined,
): Task<T> {
  if (!watchingWaits) watchContextWaits();
  const parent = store.getStore();
  const task = new Task<T>(nextId++, name ?? (fn.name || 'task'), parent?.id, owner);
  task.site = site;
  if (head !== undefined) {
    task.next = head;
    head.prev = task;
  }
  head = task;
  live++;
  if (startChannel.hasSubscribers) startChannel.publish({ task });
  task.run = store.run(task, run, task, ctx, fn);
  return task;
}

// run is a plain async function rather than promise.then(closure, closure): no closures per task,
// `await` on the task's native promise costs one microtask, and its own promise is the task's
// `done`, so a task costs no promise beyond the two an async call needs anyway.
async function run<T>(task: Task<T>, ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T> {
  let value: T;
  try {
    value = await fn(ctx);
  } catch (err) {
    settle(task, REJECTED, err);
    // A failure whose `done` was read (or that a Group owns) rejects `done`; any other is reported
    // as unobserved, and `run` resolves so that Node does not also report it.
    if (task.observed && task.owner === undefined) {
      task.rethrown = true;
      throw err;
    }
    return undefined as T;
  }
  settle(task, FULFILLED, value);
  return value;
}

function settle(task: Task, status: number, result: unknown): void {
  task.status = status;
  task.result = status === REJECTED ? result : undefined;
  task.state = status === FULFILLED ? 'done' : 'failed';
  task.waits = undefined;
  if (task.prev !== undefined) task.prev.next = task.next;
  else head = task.next;
  if (task.next !== undefined) task.next.prev = task.prev;
  task.prev = task.next = undefined;
  live--;
  if (endChannel.hasSubscribers)
    endChannel.publish(status === FULFILLED ? { task, ok: true } : { task, ok: false, error: result });
  if (task.owner !== undefined) task.owner.taskSettled(status === FULFILLED, result);
  else if (status === REJECTED && !task.observed) setImmediate(reportIfUnobserved, task);
}

function reportIfUnobserved(task: Task): void {
  if (task.observed) return;
  const error = task.result;
  if (unhandledChannel.hasSubscribers) unhandledChannel.publish({ task, error });
  const reason = error instanceof Error ? (error.stack ?? String(error)) : String(error);
  const born = task.site?.stack ? `\ntask created ${trimStack(task.site.stack)}` : '';
  process.emitWarning(
    `task ${task.id} (${task.name}) failed and nobody read its handle's done: ${reason}${born}`,
    {
      type: 'LeashTaskWarning',
      code: 'LEASH_WARN_TASK_UNHANDLED',
      detail: 'Await handle.done, run the task in a Group and await wait(), or catch inside the task.',
    },
  );
}

// The first line of a captured stack is the holder's "Error" header; drop it.
function trimStack(stack: string): string {
  const nl = stack.indexOf('\n');
  return nl === -1 ? stack : stack.slice(nl + 1).replace(/^\s+/, '');
}

// The context layer publishes its own blocking waits (sleep, abortable) on diagnostics channels
// rather than importing this layer; a task blocked in one shows `sleeping` or `io`. Subscribed on
// the first `go`, so a program that never starts a task pays nothing (nothing is published to a
// channel without subscribers).
const waitTask = new WeakMap<object, Task>();

function watchContextWaits(): void {
  watchingWaits = true;
  subscribe('leash:context:wait-start', onWaitStart);
  subscribe('leash:context:wait-end', onWaitEnd);
}

function waitState(msg: unknown): TaskState {
  return (msg as { op?: string }).op === 'sleep' ? 'sleeping' : 'io';
}

function onWaitStart(msg: unknown): void {
  const task = store.getStore();
  if (task === undefined) return;
  enterWait(task, msg, waitState(msg));
  waitTask.set(msg as object, task);
}

function onWaitEnd(msg: unknown): void {
  const task = waitTask.get(msg as object);
  if (task !== undefined) leaveWait(task, msg);
}

/**
 * enterWait records that `task` is blocked in `state` until the matching `leaveWait(task, token)`;
 * `token` identifies the operation (its waiter). A settled task's state is left alone.
 */
export function enterWait(task: Task, token: unknown, state: TaskState): void {
  if (task.status !== PENDING) return;
  if (task.waits === undefined) task.waits = [token, state];
  else task.waits.push(token, state);
  task.state = state;
}

/**
 * leaveWait ends the wait `token` of `task`: the task shows the most recent wait still pending,
 * or `running` when none is. O(1) when waits end in reverse order (the usual case, one at a time).
 */
export function leaveWait(task: Task, token: unknown): void {
  const waits = task.waits;
  if (waits === undefined) return;
  let i = waits.length - 2;
  while (i >= 0 && waits[i] !== token) i -= 2;
  if (i < 0) return;
  if (i === waits.length - 2) waits.length = i;
  else waits.splice(i, 2);
  if (task.status === PENDING)
    task.state = waits.length === 0 ? 'running' : (waits[waits.length - 1] as TaskState);
}

/**
 * tasks returns a snapshot of every live task, newest first. Entries are copies: later changes
 * to a task do not show in an old snapshot. Costs O(live tasks); meant for profiles and tests.
 */
export function tasks(): TaskInfo[] {
  const out: TaskInfo[] = [];
  for (let t = head; t !== undefined; t = t.next) {
    const info: { -readonly [K in keyof TaskInfo]: TaskInfo[K] } = {
      id: t.id,
      name: t.name,
      parentId: t.parentId,
      state: t.state,
      startedAt: t.startedAt,
    };
    if (t.site?.stack !== undefined) info.stack = trimStack(t.site.stack);
    out.push(info);
  }
  return out;
}

/** taskCount returns how many tasks are live, in O(1). Always on; costs nothing to keep. */
export function taskCount(): number {
  return live;
}

/**
 * currentTask returns the handle of the task whose code is running (found through
 * AsyncLocalStorage), or undefined outside any task.
 */
export function currentTask(): TaskHandle | undefined {
  return store.getStore();
}

/** current is currentTask for this layer's blocking operations, with the writable state. */
export function current(): Task | undefined {
  return store.getStore();
}

/**
 * withTaskState marks the current task as blocked in `state` until `promise` settles, and returns
 * a promise that settles as `promise` does. Outside a task it returns `promise` itself. For other
 * layers' waits that leashjs/task does not see: `leashjs/http` can mark a socket read as `io`.
 * (Channels, select, Group.wait, ticker, and the core's `sleep` and `abortable` set their states
 * themselves.) With several concurrent waits in one task, the task shows the most recent one
 * still pending, and `running` once none is.
 */
export function withTaskState<T>(state: TaskState, promise: Promise<T>): Promise<T> {
  const task = store.getStore();
  if (task === undefined) return promise;
  const token = {};
  enterWait(task, token, state);
  return promise.then(
    (value) => {
      leaveWait(task, token);
      return value;
    },
    (err: unknown) => {
      leaveWait(task, token);
      throw err;
    },
  );
}
