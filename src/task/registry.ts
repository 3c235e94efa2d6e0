import { channel, subscribe } from 'node:diagnostics_channel';
import { type Context, createKey, withValue } from '../context/index.js';
import {
  assertContext,
  assertFunction,
  assertOneOf,
  assertOptions,
  describe,
  invalidArg,
  keepShape,
} from '../context/internal.js';

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
  // The waits pending in this task that are not a channel operation or a select (sleep, io, a
  // group wait, a ticker), oldest first, as flat [token, state, seq] triples: the most recent one
  // is kept in three fields and only older ones in the array, so one wait at a time (the usual
  // case) costs three stores and no array operation. Channel operations and selects are not
  // recorded here at all: `state` finds them in their contexts' lists when it is read (see
  // taskBlockedLists).
  waitToken: unknown = undefined;
  waitState: TaskState = 'running';
  waitSeq = 0;
  waits: unknown[] | undefined = undefined;

  constructor(id: number, name: string, parentId: number | undefined, owner: TaskOwner | undefined) {
    this.id = id;
    this.name = name;
    this.parentId = parentId;
    this.owner = owner;
    this.startedAt = Date.now();
  }

  /**
   * state is the task's most recent wait still pending, `running` when none is, or how it ended.
   * Worked out when read (O(contexts with blocked operations)): a blocked operation writes
   * nothing into its task, so a channel hand-off between tasks costs what it costs outside them.
   */
  get state(): TaskState {
    if (this.status !== PENDING) return this.status === FULFILLED ? 'done' : 'failed';
    return pendingState(this, newestBlockedByTask().get(this));
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

// The task rides on its context, as pprof labels ride on a Go context: `go` derives the task's
// context with the task attached, and everything that needs "the task doing this" (a parent for
// `go`, the task to mark blocked in a channel operation) reads it from the ctx it was given. No
// AsyncLocalStorage: on Node 20 its first use turns on a promise hook for the whole process, and
// from then on every `await` in the program costs two to three times more (issue 11).
const TASK_KEY = createKey<Task>('leash.task');

// Not in the registry: it only keeps the class's layout (context/keep-shape.ts). Every field a
// task changes after its constructor is written once here: V8 treats a field that
// only the constructor has written as a constant, and the first write of another value is a map
// change that throws away every function compiled against the constant. Without these writes the
// first task to end deoptimized the whole channel hand-off (send, recv, block, unblock: seen with
// `node --trace-deopt`, "dependent field type constness changed"), which then ran unoptimized until
// V8 compiled it again; test/task/shapes.test.ts checks it.
const shape = new Task(0, 'shape', undefined, undefined);
shape.prev = shape.next = shape;
shape.site = {};
shape.status = REJECTED;
shape.result = shape;
shape.run = shape.failed = Promise.resolve();
shape.observed = shape.rethrown = true;
shape.waitToken = shape;
shape.waitState = 'done';
shape.waitSeq = 1;
shape.waits = [];
shape.prev = shape.next = undefined;
keepShape(shape);

let head: Task | undefined;
let live = 0;
let nextId = 1;
let stacks = process.env.LEASH_TASK_STACKS === '1';

let watchingWaits = false;

const startChannel = channel('leash:task:start');
const endChannel = channel('leash:task:end');
const unhandledChannel = channel('leash:task:unhandled');

/**
 * TaskStartMessage is published on `leash:task:start` when `go` (or a Group) registers a task. A
 * frozen plain object: subscribers can read and keep it, never change the task through it.
 * `stack` is the creation stack, present only while task stacks are enabled.
 */
export interface TaskStartMessage {
  readonly id: number;
  readonly name: string;
  readonly parentId: number | undefined;
  /** Epoch ms, as `Date.now()`. */
  readonly startedAt: number;
  readonly stack?: string;
}

/**
 * TaskEndMessage is published on `leash:task:end` when a task settles: `state` is `done` or
 * `failed`, and `error` (present only when failed) is what it threw. Frozen, like every leash payload.
 */
export interface TaskEndMessage {
  readonly id: number;
  readonly name: string;
  readonly parentId: number | undefined;
  readonly state: 'done' | 'failed';
  readonly error?: unknown;
  /** Epoch ms, as `Date.now()`. */
  readonly endedAt: number;
}

/**
 * TaskUnhandledMessage is published on `leash:task:unhandled` when a task failed and nobody read
 * its handle's `done` (see `go`). Reading it does not count as observing the task.
 */
export interface TaskUnhandledMessage {
  readonly id: number;
  readonly name: string;
  readonly parentId: number | undefined;
  readonly error: unknown;
  readonly stack?: string;
}

/**
 * setTaskStacks turns creation-stack capture on or off for tasks started from now on. Off by
 * default (capturing a stack costs microseconds per `go`); `LEASH_TASK_STACKS=1` turns it on at
 * startup; `leashjs/leak` can turn it on for a debug session. Safe to call at any time. Anything
 * but a boolean throws TypeError (LEASH_ERR_INVALID_ARG).
 */
export function setTaskStacks(enabled: boolean): void {
  if (typeof enabled !== 'boolean')
    throw invalidArg(`setTaskStacks(enabled): enabled must be true or false, got ${describe(enabled)}`);
  stacks = enabled;
}

/** taskStacksEnabled reports whether `go` currently captures creation stacks. */
export function taskStacksEnabled(): boolean {
  return stacks;
}

const GO_OPTIONS = ['name'] as const;

/**
 * go runs `fn(taskCtx)` as a tracked task and returns its handle at once. `taskCtx` is a child of
 * `ctx` that carries the task (it is cancelled with `ctx` and has its deadline and values): pass
 * it on, and every `go`, channel operation or `select` made with it (or with a context derived
 * from it) knows which task is doing it. The task is in the registry (`tasks()`, `taskCount()`)
 * from this call until its promise settles. Its parent is the task carried by `ctx` (none at top
 * level), exactly as Go's pprof labels ride on a context: no AsyncLocalStorage and no promise hook
 * is involved, so starting tasks costs nothing to promises that are not part of them.
 *
 * A task that fails while nobody has read its `done` is reported, never swallowed: unless `done`
 * is read by the end of the current event-loop turn (a `setImmediate` after the failure), leash
 * publishes a {@link TaskUnhandledMessage} on the diagnostics channel `leash:task:unhandled` and
 * emits a process warning with code `LEASH_WARN_TASK_UNHANDLED`. Once `done` has been read, the
 * caller owns the outcome, and a rejection nobody handles is Node's ordinary unhandled rejection.
 *
 * go does not cancel anything by itself: the task must watch `ctx` (every blocking leash operation
 * does). A task that ignores its context is the leak `leashjs/leak` reports.
 *
 * Arguments are checked in order, `ctx` first: a non-Context, a non-function `fn`, or options that
 * are not `{ name?: string }` (a bare string, an unknown key) throw TypeError (LEASH_ERR_INVALID_ARG).
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
  opts?: { readonly name?: string },
): TaskHandle<T> {
  assertContext(ctx, 'go(ctx, fn, opts)');
  assertFunction(fn, 'go(ctx, fn, opts)', 'fn');
  let name: string | undefined;
  if (opts !== undefined) {
    name = assertOptions(opts, 'go(ctx, fn, opts)', GO_OPTIONS).name;
    if (name !== undefined && typeof name !== 'string')
      throw invalidArg(`go(ctx, fn, opts): opts.name must be a string, got ${describe(name)}`);
  }
  return spawn(ctx, fn, name, undefined, stacks ? captureSite(go) : undefined);
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
 * unobserved-failure report; `site` is the creation stack from `captureSite`. The parent is the
 * task carried by `ctx`.
 */
export function spawn<T>(
  ctx: Context,
  fn: (ctx: Context) => Promise<T>,
  name: string | undefined,
  owner: TaskOwner | undefined,
  site: { stack?: string } | undefined,
): Task<T> {
  if (!watchingWaits) watchContextWaits();
  const parent = taskIn(ctx);
  const task = new Task<T>(nextId++, name ?? (fn.name || 'task'), parent?.id, owner);
  task.site = site;
  if (head !== undefined) {
    task.next = head;
    head.prev = task;
  }
  head = task;
  live++;
  if (startChannel.hasSubscribers) {
    const msg: { -readonly [K in keyof TaskStartMessage]: TaskStartMessage[K] } = {
      id: task.id,
      name: task.name,
      parentId: task.parentId,
      startedAt: task.startedAt,
    };
    if (site?.stack !== undefined) msg.stack = trimStack(site.stack);
    startChannel.publish(Object.freeze(msg));
  }
  task.run = run(task, withValue(ctx, TASK_KEY, task), fn);
  return task;
}

/** taskIn is taskOf without the argument check, for this layer's blocking operations. */
export function taskIn(ctx: Context): Task | undefined {
  return ctx.value(TASK_KEY);
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
  task.waits = undefined;
  task.waitToken = undefined;
  if (task.prev !== undefined) task.prev.next = task.next;
  else head = task.next;
  if (task.next !== undefined) task.next.prev = task.prev;
  task.prev = task.next = undefined;
  live--;
  if (endChannel.hasSubscribers) {
    const msg: { -readonly [K in keyof TaskEndMessage]: TaskEndMessage[K] } = {
      id: task.id,
      name: task.name,
      parentId: task.parentId,
      state: status === FULFILLED ? 'done' : 'failed',
      endedAt: Date.now(),
    };
    if (status === REJECTED) msg.error = result;
    endChannel.publish(Object.freeze(msg));
  }
  if (task.owner !== undefined) task.owner.taskSettled(status === FULFILLED, result);
  else if (status === REJECTED && !task.observed) setImmediate(reportIfUnobserved, task);
}

function reportIfUnobserved(task: Task): void {
  if (task.observed) return;
  const error = task.result;
  if (unhandledChannel.hasSubscribers) {
    const msg: { -readonly [K in keyof TaskUnhandledMessage]: TaskUnhandledMessage[K] } = {
      id: task.id,
      name: task.name,
      parentId: task.parentId,
      error,
    };
    if (task.site?.stack !== undefined) msg.stack = trimStack(task.site.stack);
    unhandledChannel.publish(Object.freeze(msg));
    // A subscriber may have done anything; only reading the handle's `done` observes a task.
    if (task.observed) return;
  }
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

// The context layer publishes its own blocking waits (sleep, abortable) on diagnostics channels,
// with the context they wait on, rather than importing this layer; a task blocked in one shows
// `sleeping` or `io`. Subscribed on the first `go`, so a program that never starts a task pays
// nothing (nothing is published to a channel without subscribers).
const waitTask = new WeakMap<object, Task>();

function watchContextWaits(): void {
  watchingWaits = true;
  subscribe('leash:context:wait-start', onWaitStart);
  subscribe('leash:context:wait-end', onWaitEnd);
}

function onWaitStart(msg: unknown): void {
  const m = msg as { op?: string; ctx?: Context };
  if (m.ctx === undefined) return;
  const task = taskIn(m.ctx);
  if (task === undefined) return;
  enterWait(task, msg, m.op === 'sleep' ? 'sleeping' : 'io');
  waitTask.set(msg as object, task);
}

function onWaitEnd(msg: unknown): void {
  const task = waitTask.get(msg as object);
  if (task !== undefined) leaveWait(task, msg);
}

/**
 * BlockedOp is a blocked channel operation or select (a Blocker, wait-queue.ts) as a task's state
 * reads it: the state it puts its task in and when it started (nextWaitSeq).
 */
export interface BlockedOp {
  readonly waitState: TaskState;
  readonly seq: number;
}

/**
 * BlockedList is the list of operations blocked on one context (a CtxWatch, wait-queue.ts): the
 * task the context belongs to, and the newest operation still blocked on it.
 */
export interface BlockedList {
  readonly task: Task | undefined;
  readonly tail: BlockedOp | undefined;
}

/**
 * taskBlockedLists holds the lists of the contexts that belong to a task, from when their first
 * operation blocks until they are dropped (wait-queue.ts adds and deletes them): what `state`
 * searches for a task's blocked channel operations and selects.
 */
export const taskBlockedLists = new Set<BlockedList>();

// Waits are numbered in the order they start, so that a task's state can show its most recent one.
// The numbers wrap within V8's small integers (30 bits) and are compared as serial numbers: a
// pending wait is older than a later one as long as fewer than 2^29 waits started in between.
const SEQ_MASK = 0x3fffffff;
const SEQ_HALF = 0x20000000;
let seq = 0;

/** nextWaitSeq numbers a wait that starts now. */
export function nextWaitSeq(): number {
  seq = (seq + 1) & SEQ_MASK;
  return seq;
}

function newer(a: number, b: number): boolean {
  const d = (a - b) & SEQ_MASK;
  return d !== 0 && d < SEQ_HALF;
}

// The newest blocked operation of every task with one, in one pass over the lists: `state` reads
// one task's, tasks() every task's.
function newestBlockedByTask(): Map<Task, BlockedOp> {
  const out = new Map<Task, BlockedOp>();
  for (const list of taskBlockedLists) {
    const op = list.tail;
    if (op === undefined || list.task === undefined) continue;
    const best = out.get(list.task);
    if (best === undefined || newer(op.seq, best.seq)) out.set(list.task, op);
  }
  return out;
}

// A pending task's state: the newer of its newest blocked operation and its newest other wait.
function pendingState(task: Task, op: BlockedOp | undefined): TaskState {
  if (task.waitToken !== undefined && (op === undefined || newer(task.waitSeq, op.seq)))
    return task.waitState;
  return op === undefined ? 'running' : op.waitState;
}

/**
 * enterWait records that `task` is blocked in `state` until the matching `leaveWait(task, token)`;
 * `token` identifies the operation. For waits that are not a channel operation or a select (those
 * are found through taskBlockedLists). A settled task is left alone.
 */
export function enterWait(task: Task, token: unknown, state: TaskState): void {
  if (task.status !== PENDING) return;
  if (task.waitToken !== undefined) {
    if (task.waits === undefined) task.waits = [];
    task.waits.push(task.waitToken, task.waitState, task.waitSeq);
  }
  task.waitToken = token;
  task.waitState = state;
  task.waitSeq = nextWaitSeq();
}

/**
 * leaveWait ends the wait `token` of `task`. O(1) when waits end in reverse order (the usual case,
 * one at a time).
 */
export function leaveWait(task: Task, token: unknown): void {
  if (task.waitToken === token) {
    const waits = task.waits;
    if (waits !== undefined && waits.length > 0) {
      task.waitSeq = waits.pop() as number;
      task.waitState = waits.pop() as TaskState;
      task.waitToken = waits.pop();
    } else {
      task.waitToken = undefined;
      task.waitState = 'running';
    }
    return;
  }
  const waits = task.waits;
  if (waits === undefined) return;
  let i = waits.length - 3;
  while (i >= 0 && waits[i] !== token) i -= 3;
  if (i >= 0) waits.splice(i, 3);
}

/**
 * tasks returns a snapshot of every live task, newest first. Entries are copies: later changes
 * to a task do not show in an old snapshot. Costs O(live tasks + contexts with blocked operations);
 * meant for profiles and tests.
 */
export function tasks(): TaskInfo[] {
  const out: TaskInfo[] = [];
  const blocked = newestBlockedByTask();
  for (let t = head; t !== undefined; t = t.next) {
    const info: { -readonly [K in keyof TaskInfo]: TaskInfo[K] } = {
      id: t.id,
      name: t.name,
      parentId: t.parentId,
      state: pendingState(t, blocked.get(t)),
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
 * taskOf returns the handle of the task that `ctx` belongs to: the task whose `go` derived `ctx`
 * (or an ancestor of it), or undefined for a context made outside any task. It is how code learns
 * "which task is this" (Go's pprof labels, read back from a context); it replaces an implicit
 * "current task", which would need AsyncLocalStorage and its process-wide promise hook. A settled
 * task's handle stays readable (state `done` or `failed`).
 */
export function taskOf(ctx: Context): TaskHandle | undefined {
  assertContext(ctx, 'taskOf(ctx)');
  return taskIn(ctx);
}

const WAIT_STATES: readonly TaskState[] = [
  'sleeping',
  'chan send',
  'chan receive',
  'select',
  'group wait',
  'io',
];

/**
 * withTaskState marks the task that `ctx` belongs to as blocked in `state` until `promise`
 * settles, and returns a promise that settles as `promise` does. When `ctx` belongs to no task it
 * returns `promise` itself. For other layers' waits that leashjs/task does not see: `leashjs/http`
 * can mark a socket read as `io`. (Channels, select, Group.wait, ticker, and the core's `sleep`
 * and `abortable` set their states themselves.) With several concurrent waits in one task, the task
 * shows the most recent one still pending, and `running` once none is. A non-Context, a `state`
 * that is not a blocked state (`sleeping`, `chan send`, `chan receive`, `select`, `group wait`,
 * `io`) or a `promise` that is not a promise throws TypeError (LEASH_ERR_INVALID_ARG).
 */
export function withTaskState<T>(ctx: Context, state: TaskState, promise: Promise<T>): Promise<T> {
  const where = 'withTaskState(ctx, state, promise)';
  assertContext(ctx, where);
  assertOneOf(state, where, 'state', WAIT_STATES);
  if (typeof (promise as { then?: unknown } | null)?.then !== 'function')
    throw invalidArg(`${where}: promise must be a promise, got ${describe(promise)}`);
  const task = taskIn(ctx);
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
