import { type AsyncHook, createHook } from 'node:async_hooks';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { assertNumber, assertOptions } from '../context/internal.js';
import { currentLabel, INTERNAL_LABEL } from './labels.js';
import { readTaskEvent } from './task-source.js';

/** Options for startTrace. */
export interface TraceOptions {
  /** Ring buffer size in events; the oldest are dropped first. Minimum 16. Default: 100,000. */
  maxEvents?: number;
}

/** A Chrome trace event (the subset leash writes). */
export interface TraceEvent {
  readonly ph: 'B' | 'E' | 'b' | 'e' | 's' | 'f' | 'M';
  readonly name: string;
  readonly cat: string;
  readonly ts: number;
  readonly pid: number;
  readonly tid: number;
  readonly id?: string;
  readonly bp?: 'e';
  readonly args?: Record<string, unknown>;
}

/**
 * TraceRecorder holds the events of one recording. `stop()` removes the hooks (idempotent);
 * `toJSON()` returns Chrome trace-event JSON (`{ traceEvents }`) that Perfetto and chrome://tracing
 * open: one async slice (`b`/`e`) per resource or promise from creation to destruction or
 * settlement, one `B`/`E` slice per callback run on the main thread, and flow arrows (`s` -> `f`)
 * from the callback that created a resource to that resource's first callback. Pairs cut by the
 * ring buffer are dropped; resources still alive at export end at the export time with
 * `args.alive = true`.
 */
export interface TraceRecorder {
  stop(): void;
  toJSON(): { traceEvents: TraceEvent[]; displayTimeUnit: 'ms'; otherData: Record<string, unknown> };
  readonly size: number;
  readonly dropped: number;
}

interface Raw {
  ph: TraceEvent['ph'];
  name: string;
  ts: number;
  /** Async resources: the asyncId; leash tasks: the negated task id (never collides). */
  asyncId: number;
  trigger?: number;
}

function nowUs(): number {
  return performance.timeOrigin * 1000 + performance.now() * 1000;
}

/**
 * startTrace starts recording async lifecycle events (every async resource and promise: created,
 * callback start and end, destroyed or settled; every leash task: started, ended) into a bounded
 * ring buffer until stop(). Recording
 * costs a full async_hooks hook with a destroy hook, several times slower on promise-heavy code:
 * record for seconds, not for the life of the process. Several recorders may run at once. Forgetting
 * stop() leaves the hooks on.
 *
 * @example
 * const rec = startTrace();
 * await handle(req);
 * rec.stop();
 * writeFileSync('trace.json', JSON.stringify(rec.toJSON())); // open in ui.perfetto.dev
 */
export function startTrace(opts?: TraceOptions): TraceRecorder {
  const o = assertOptions(opts, 'startTrace(opts)', ['maxEvents']);
  const capacity = o.maxEvents ?? 100_000;
  assertNumber(capacity, 'startTrace(opts)', 'maxEvents', { min: 16, max: 2 ** 26, integer: true });
  const ring: Raw[] = new Array(capacity);
  let head = 0;
  let size = 0;
  let dropped = 0;
  const types = new Map<number, string>();
  const started = new Set<number>();
  const push = (e: Raw) => {
    ring[(head + size) % capacity] = e;
    if (size < capacity) size++;
    else {
      head = (head + 1) % capacity;
      dropped++;
    }
  };
  const end = (asyncId: number) => {
    const type = types.get(asyncId);
    if (type === undefined) return;
    types.delete(asyncId);
    started.delete(asyncId);
    push({ ph: 'e', name: type, ts: nowUs(), asyncId });
  };
  let hook: AsyncHook | undefined = createHook({
    init(asyncId, type, triggerAsyncId) {
      if (currentLabel() === INTERNAL_LABEL) return;
      types.set(asyncId, type);
      const ts = nowUs();
      push({ ph: 'b', name: type, ts, asyncId, trigger: triggerAsyncId });
      push({ ph: 's', name: 'created', ts, asyncId });
    },
    before(asyncId) {
      const type = types.get(asyncId);
      if (type === undefined) return;
      const ts = nowUs();
      push({ ph: 'B', name: `${type} callback`, ts, asyncId });
      if (!started.has(asyncId)) {
        started.add(asyncId);
        push({ ph: 'f', name: 'created', ts, asyncId });
      }
    },
    after(asyncId) {
      const type = types.get(asyncId);
      if (type === undefined) return;
      push({ ph: 'E', name: `${type} callback`, ts: nowUs(), asyncId });
      // A fired one-shot timer or immediate is finished after its callback.
      if (type === 'Immediate') end(asyncId);
    },
    destroy: end,
    promiseResolve: end,
  }).enable();
  // leash tasks, from leashjs/task's diagnostics channels: one async slice per task, named after it.
  const taskNames = new Map<number, string>();
  const onTaskStart = (msg: unknown) => {
    const task = readTaskEvent(msg);
    if (task === undefined || currentLabel() === INTERNAL_LABEL) return;
    const name = `task ${task.name ?? task.id}`;
    taskNames.set(task.id, name);
    push({
      ph: 'b',
      name,
      ts: nowUs(),
      asyncId: -task.id,
      trigger: task.parentId === undefined ? undefined : -task.parentId,
    });
  };
  const onTaskEnd = (msg: unknown) => {
    const id = readTaskEvent(msg)?.id;
    const name = id === undefined ? undefined : taskNames.get(id);
    if (id === undefined || name === undefined) return;
    taskNames.delete(id);
    push({ ph: 'e', name, ts: nowUs(), asyncId: -id });
  };
  subscribe('leash:task:start', onTaskStart);
  subscribe('leash:task:end', onTaskEnd);
  return {
    stop() {
      if (hook === undefined) return;
      hook.disable();
      hook = undefined;
      unsubscribe('leash:task:start', onTaskStart);
      unsubscribe('leash:task:end', onTaskEnd);
    },
    get size() {
      return size;
    },
    get dropped() {
      return dropped;
    },
    toJSON() {
      const raw: Raw[] = [];
      for (let i = 0; i < size; i++) raw.push(ring[(head + i) % capacity]!);
      return { traceEvents: toChrome(raw), displayTimeUnit: 'ms', otherData: { dropped, source: 'leash' } };
    },
  };
}

// Converts raw events to Chrome's format, keeping only complete pairs: an async slice whose begin
// was evicted is dropped, one still open ends now; callback slices are matched as a stack; a flow is
// kept only when both its start and finish survived.
//
// Every step is one pass or one Map lookup per event, so exporting N events is O(N): the export runs
// on the event loop of the server behind /debug/leash/trace.
function toChrome(raw: Raw[]): TraceEvent[] {
  const pid = process.pid;
  // The name of each async slice whose begin survived, by asyncId (tasks: negated task id).
  const began = new Map<number, string>();
  const ended = new Set<number>();
  const flowStart = new Set<number>();
  const flowEnd = new Set<number>();
  for (const e of raw) {
    if (e.ph === 'b') began.set(e.asyncId, e.name);
    else if (e.ph === 'e' && began.has(e.asyncId)) ended.add(e.asyncId);
    else if (e.ph === 's') flowStart.add(e.asyncId);
    else if (e.ph === 'f' && flowStart.has(e.asyncId)) flowEnd.add(e.asyncId);
  }
  const out: TraceEvent[] = [
    {
      ph: 'M',
      name: 'process_name',
      cat: '__metadata',
      ts: 0,
      pid,
      tid: 1,
      args: { name: 'node (leash trace)' },
    },
    { ph: 'M', name: 'thread_name', cat: '__metadata', ts: 0, pid, tid: 1, args: { name: 'main' } },
  ];
  const open: Raw[] = [];
  let last = 0;
  for (const e of raw) {
    last = e.ts;
    const id = sliceId(e.asyncId);
    switch (e.ph) {
      case 'b':
        out.push({
          ph: 'b',
          name: e.name,
          cat: 'async',
          id,
          ts: e.ts,
          pid,
          tid: 1,
          args: { asyncId: e.asyncId, trigger: e.trigger },
        });
        break;
      case 'e':
        if (began.has(e.asyncId))
          out.push({ ph: 'e', name: e.name, cat: 'async', id, ts: e.ts, pid, tid: 1 });
        break;
      case 's':
        if (flowEnd.has(e.asyncId))
          out.push({ ph: 's', name: e.name, cat: 'flow', id, ts: e.ts, pid, tid: 1 });
        break;
      case 'f':
        if (flowEnd.has(e.asyncId))
          out.push({ ph: 'f', bp: 'e', name: e.name, cat: 'flow', id, ts: e.ts, pid, tid: 1 });
        break;
      case 'B':
        open.push(e);
        out.push({
          ph: 'B',
          name: e.name,
          cat: 'callback',
          ts: e.ts,
          pid,
          tid: 1,
          args: { asyncId: e.asyncId },
        });
        break;
      case 'E':
        // An end whose begin was evicted by the ring buffer has nothing to close.
        if (open.length > 0 && open[open.length - 1]!.asyncId === e.asyncId) {
          open.pop();
          out.push({ ph: 'E', name: e.name, cat: 'callback', ts: e.ts, pid, tid: 1 });
        }
        break;
    }
  }
  const endTs = Math.max(last, nowUs());
  while (open.length > 0) {
    const e = open.pop()!;
    out.push({ ph: 'E', name: e.name, cat: 'callback', ts: endTs, pid, tid: 1 });
  }
  for (const [asyncId, name] of began) {
    if (!ended.has(asyncId)) {
      out.push({
        ph: 'e',
        name,
        cat: 'async',
        id: sliceId(asyncId),
        ts: endTs,
        pid,
        tid: 1,
        args: { alive: true },
      });
    }
  }
  return out;
}

// One id per async slice, the same on its begin and its end: a leash task's is `task-<id>`.
function sliceId(asyncId: number): string {
  return asyncId < 0 ? `task-${-asyncId}` : String(asyncId);
}
