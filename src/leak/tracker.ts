import { type AsyncHook, createHook } from 'node:async_hooks';
import { promiseHooks } from 'node:v8';
import { assertNumber, assertOneOf, assertOptions } from '../context/internal.js';
import { disableListenerTracking, enableListenerTracking, liveListeners } from './listener-tracker.js';
import { captureOrigin, type Lineage, newRecord, type TrackedRecord } from './record.js';
import { unwatchTasks, watchTasks } from './task-source.js';

/**
 * TrackingMode picks how much the tracker pays per operation.
 *
 * - `count`: production. Two counters per promise (created, settled) and, at query time, Node's own
 *   list of active handles. No async_hooks, no stacks, no per-object state.
 * - `debug`: every socket, server, child process, worker and file handle (async_hooks init only, no
 *   destroy hook: liveness is read from the resource itself when asked) with its creation stack;
 *   listeners added to EventEmitters and EventTargets with their stacks; and, sampled, one timer or
 *   immediate and one promise in `sampleEvery` (with the garbage-collector proof of abandonment).
 *   The hot kinds are sampled because a stack costs microseconds and keeping every short-lived
 *   timer costs garbage-collection time; a leak that repeats is still caught with its stack.
 * - `full`: debug with every stack captured and every promise recorded. What tests and
 *   `leash doctor` use.
 */
export type TrackingMode = 'count' | 'debug' | 'full';

/** Options for startTracking. */
export interface TrackingOptions {
  /** Default: 'full'. */
  mode?: TrackingMode;
  /** debug mode only: record one promise, and one timer or immediate, in this many. Minimum 1. Default: 64. */
  sampleEvery?: number;
}

// Async resource types worth reporting: they keep the process alive or hold an OS resource. Requests
// (FSREQCALLBACK, WRITEWRAP, GETADDRINFOREQWRAP ...) finish on their own and are not leaks by
// themselves; promises are tracked through v8.promiseHooks, which is cheaper than async_hooks' path.
const RESOURCE_TYPES = new Set([
  'Timeout',
  'Immediate',
  'TCPWRAP',
  'TCPSERVERWRAP',
  'PIPEWRAP',
  'PIPESERVERWRAP',
  'PROCESSWRAP',
  'TTYWRAP',
  'UDPWRAP',
  'FSEVENTWRAP',
  'STATWATCHER',
  'FILEHANDLE',
  'WORKER',
  'MESSAGEPORT',
]);

// Callbacks in which Node itself creates handles on the application's behalf. Their stacks are kept
// (in a bounded table, there is no destroy hook) so resources made inside inherit the caller's line.
// FSREQPROMISE is fs.promises' request: Node creates the FILEHANDLE an open() yields with no async
// context at all (trigger 0, empty stack), just before that request's callback runs, so the
// handle takes the stack of the next FSREQPROMISE callback to run (see ownerHook).
const LINEAGE_TYPES = new Set(['TickObject', 'GETADDRINFOREQWRAP', 'FSREQPROMISE']);
const LINEAGE_LIMIT = 4096;
const lineages = new Map<number, Lineage>();
const fsRequests = new Set<number>();
// FILEHANDLEs created with no context, waiting for the request that opened them. The before hook
// is on only while one waits: a before hook on every callback would cost every mode.
let orphanHandles: TrackedRecord[] = [];
const ownerHook = createHook({ before: adoptOrphans });

function adoptOrphans(asyncId: number): void {
  if (!fsRequests.has(asyncId)) return;
  const lineage = lineages.get(asyncId);
  for (const rec of orphanHandles) rec.lineage ??= lineage;
  orphanHandles = [];
  ownerHook.disable();
}

const ABANDONED_LIMIT = 10_000;

let mode: TrackingMode | undefined;
let sampleEvery = 1;
let sampleCounter = 0;
let timerSampleCounter = 0;
let asyncHook: AsyncHook | undefined;
let stopInit: (() => void) | undefined;
let stopSettled: (() => void) | undefined;
let promisesCreated = 0;
let promisesSettled = 0;
let abandonedDropped = 0;
let sweepAt = 1024;

const resources = new Map<number, TrackedRecord>();
const pendingPromises = new Set<TrackedRecord>();
const promiseRecords = new WeakMap<object, TrackedRecord>();
// Promises derived from leash's own (the throwaway of `await verifyNone()`) are not the user's work.
const internalPromises = new WeakSet<object>();
const abandoned: TrackedRecord[] = [];

// A promise that is garbage-collected while still pending can never settle: nothing holds its
// resolve function or a reference through which anyone could wait on it any more.
const collected = new FinalizationRegistry<TrackedRecord>((rec) => {
  if (rec.state !== 'live') return;
  rec.state = 'abandoned';
  rec.endedAt = Date.now();
  pendingPromises.delete(rec);
  abandoned.push(rec);
  if (abandoned.length > ABANDONED_LIMIT) {
    abandoned.shift();
    abandonedDropped++;
  }
});

/**
 * startTracking turns the tracker on in the given mode, from now on: work started earlier is not
 * seen. Calling it again switches mode (records already made are kept). The hooks are process-wide;
 * leaving tracking on costs what the mode costs (see TrackingMode) until stopTracking.
 */
export function startTracking(opts?: TrackingOptions): void {
  const where = 'startTracking(opts)';
  const o = assertOptions(opts, where, ['mode', 'sampleEvery']);
  const next = o.mode ?? 'full';
  assertOneOf(next, where, 'mode', ['count', 'debug', 'full'] as const);
  if (o.sampleEvery !== undefined)
    assertNumber(o.sampleEvery, where, 'sampleEvery', { min: 1, integer: true });
  const every = next === 'debug' ? (o.sampleEvery ?? 64) : 1;
  if (mode !== undefined) stopTracking();
  mode = next;
  sampleEvery = every;
  sampleCounter = 0;
  if (mode === 'count') {
    stopInit = promiseHooks.onInit(countInit) as () => void;
    stopSettled = promiseHooks.onSettled(countSettled) as () => void;
    return;
  }
  stopInit = promiseHooks.onInit(recordInit) as () => void;
  stopSettled = promiseHooks.onSettled(recordSettled) as () => void;
  asyncHook = createHook({ init: resourceInit }).enable();
  enableListenerTracking();
  watchTasks(true);
}

/** stopTracking removes every hook. Records already made stay queryable. Safe to call twice. */
export function stopTracking(): void {
  stopInit?.();
  stopSettled?.();
  asyncHook?.disable();
  ownerHook.disable();
  orphanHandles = [];
  disableListenerTracking();
  unwatchTasks();
  stopInit = stopSettled = asyncHook = undefined;
  mode = undefined;
}

/** trackingMode returns the active mode, or undefined when tracking is off. */
export function trackingMode(): TrackingMode | undefined {
  return mode;
}

function countInit(): void {
  promisesCreated++;
}

function countSettled(): void {
  promisesSettled++;
}

function recordInit(promise: Promise<unknown>, parent: Promise<unknown> | undefined): void {
  promisesCreated++;
  if (parent !== undefined && internalPromises.has(parent)) {
    internalPromises.add(promise);
    return;
  }
  if (sampleEvery > 1 && ++sampleCounter < sampleEvery) return;
  sampleCounter = 0;
  const creatorId = parent === undefined ? undefined : promiseRecords.get(parent)?.id;
  const rec = newRecord('promise', 'Promise', creatorId, undefined, recordInit);
  if (rec === undefined) {
    internalPromises.add(promise);
    return;
  }
  if (parent !== undefined && creatorId === undefined) rec.parentUntracked = true;
  promiseRecords.set(promise, rec);
  pendingPromises.add(rec);
  collected.register(promise, rec, rec);
}

function recordSettled(promise: Promise<unknown>): void {
  const rec = promiseRecords.get(promise);
  // Full mode knows every promise created since tracking started (a record or leash's own), so a
  // promise from before that settles now is not counted: settled never runs ahead of created.
  if (rec !== undefined || sampleEvery > 1 || internalPromises.has(promise)) promisesSettled++;
  if (rec === undefined || rec.state !== 'live') return;
  rec.state = 'settled';
  rec.endedAt = Date.now();
  pendingPromises.delete(rec);
  collected.unregister(rec);
  // A settled promise is never reported, but its record lives as long as the promise (children look
  // up their creator's id through promiseRecords): drop the stack, whose unformatted frames hold
  // every receiver (a server, an app) for as long as someone keeps the settled promise.
  (rec as { origin: Error | undefined }).origin = undefined;
}

function resourceInit(asyncId: number, type: string, triggerAsyncId: number, resource: object): void {
  if (!RESOURCE_TYPES.has(type)) {
    if (LINEAGE_TYPES.has(type)) {
      lineages.set(asyncId, { origin: captureOrigin(resourceInit), parent: lineages.get(triggerAsyncId) });
      if (type === 'FSREQPROMISE') fsRequests.add(asyncId);
      if (lineages.size > LINEAGE_LIMIT) {
        const oldest = lineages.keys().next().value!;
        lineages.delete(oldest);
        fsRequests.delete(oldest);
      }
    }
    return;
  }
  const trigger = resources.get(triggerAsyncId);
  // debug mode records one timer or immediate in sampleEvery (the hot kinds, like promises): keeping
  // every short-lived timer until the next sweep costs more in garbage collection than the stacks.
  if (
    sampleEvery > 1 &&
    (type === 'Timeout' || type === 'Immediate') &&
    ++timerSampleCounter % sampleEvery !== 0
  ) {
    return;
  }
  const rec = newRecord('resource', type, trigger?.id, resource, resourceInit);
  if (rec === undefined) return;
  rec.lineage =
    lineages.get(triggerAsyncId) ??
    (trigger?.origin === undefined ? undefined : { origin: trigger.origin, parent: trigger.lineage });
  if (type === 'Timeout' && (resource as TimerLike)._repeat) rec.type = 'Interval';
  if (type === 'FILEHANDLE' && triggerAsyncId === 0 && rec.lineage === undefined) {
    orphanHandles.push(rec);
    if (orphanHandles.length === 1) ownerHook.enable();
  }
  resources.set(asyncId, rec);
  if (resources.size >= sweepAt) sweep();
}

// Without a destroy hook (which would make Node track every promise's destruction too, a measured
// 8x slowdown on promise-heavy code), dead resources are found by asking them. The map is swept when
// it doubles, so the cost is amortised O(1) per resource.
function sweep(): void {
  for (const [asyncId, rec] of resources) {
    if (!refreshResource(rec)) resources.delete(asyncId);
  }
  sweepAt = Math.max(1024, resources.size * 2);
}

interface TimerLike {
  _destroyed?: boolean;
  _repeat?: number | null;
  hasRef?: () => boolean | undefined;
  fd?: number;
}

/**
 * refreshResource reads liveness from the resource itself: a timer or immediate is done once fired
 * or cleared (`_destroyed`), a handle wrap answers hasRef() with undefined once closed, a file
 * handle's fd turns negative. Returns whether it is still live, and updates the record.
 */
function refreshResource(rec: TrackedRecord): boolean {
  if (rec.state !== 'live') return false;
  const r = rec.target as TimerLike;
  let live: boolean;
  switch (rec.type) {
    case 'Timeout':
    case 'Interval':
      live = r._destroyed !== true;
      if (live && r._repeat) rec.type = 'Interval';
      break;
    case 'Immediate':
      live = r._destroyed !== true;
      break;
    case 'FILEHANDLE':
      live = typeof r.fd === 'number' && r.fd >= 0;
      break;
    case 'MESSAGEPORT':
      // A closed port and an unref'd one both answer false; only a ref'd port is known to be open.
      live = r.hasRef?.() === true;
      break;
    default:
      live = typeof r.hasRef === 'function' && r.hasRef() !== undefined;
  }
  if (!live) {
    rec.state = 'closed';
    rec.endedAt = Date.now();
    rec.target = undefined;
  }
  return live;
}

/** keepsAlive reports whether a live resource holds the event loop open (ref'd). */
export function keepsAlive(rec: TrackedRecord): boolean {
  if (rec.kind !== 'resource' || rec.state !== 'live') return false;
  const r = rec.target as TimerLike;
  return typeof r.hasRef === 'function' ? r.hasRef() === true : rec.type === 'FILEHANDLE';
}

/** resourceFd returns the file descriptor of a handle resource, or undefined. */
export function resourceFd(rec: TrackedRecord): number | undefined {
  const fd = (rec.target as TimerLike | undefined)?.fd;
  return typeof fd === 'number' ? fd : undefined;
}

/**
 * liveRecords returns everything the tracker knows to be live now: open resources, pending promises
 * (still reachable as far as it knows; collect garbage first to move unreachable ones to
 * abandonedRecords) and listeners still attached. Empty in count mode.
 */
export function liveRecords(): TrackedRecord[] {
  const out: TrackedRecord[] = [];
  for (const [asyncId, rec] of resources) {
    if (refreshResource(rec)) out.push(rec);
    else resources.delete(asyncId);
  }
  for (const rec of pendingPromises) out.push(rec);
  for (const rec of liveListeners()) out.push(rec);
  return out;
}

/**
 * releaseStacks formats the creation stacks kept in the lineage table and on live resources, before
 * a collection that is meant to prove things unreachable. An unformatted V8 stack holds the receiver
 * of every frame, and the table keeps the last 4096 nextTick and DNS stacks: without this, an
 * http.Agent or socket whose method scheduled a tick would look alive (its listeners reported) until
 * 4096 more ticks push it out. Formatting keeps the same text and lets the receivers go.
 */
export function releaseStacks(): void {
  const seen = new Set<Lineage>();
  const format = (lineage: Lineage | undefined) => {
    for (let l = lineage; l !== undefined && !seen.has(l); l = l.parent) {
      seen.add(l);
      void l.origin.stack;
    }
  };
  for (const lineage of lineages.values()) format(lineage);
  for (const rec of resources.values()) format(rec.lineage);
}

/** abandonedRecords returns the promises proven abandoned so far, oldest first (at most 10,000). */
export function abandonedRecords(): readonly TrackedRecord[] {
  return abandoned;
}

/** Counts are what count mode knows: cheap totals, no identities. */
export interface Counts {
  readonly mode: TrackingMode | undefined;
  readonly promisesCreated: number;
  readonly promisesSettled: number;
  /** created minus settled since tracking started: exact in full mode, an estimate in count and debug mode. */
  readonly promisesPending: number;
  readonly promisesAbandoned: number;
  /** Node's active resources by type (process.getActiveResourcesInfo). */
  readonly resources: Readonly<Record<string, number>>;
}

/** counts returns the counters of any mode plus Node's active resources. Cheap; safe in production. */
export function counts(): Counts {
  const byType: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) byType[type] = (byType[type] ?? 0) + 1;
  // Count and debug mode keep no per-promise state, so promises created before tracking started
  // and settled since are counted as settled; capping keeps created >= settled >= 0.
  const settled = Math.min(promisesSettled, promisesCreated);
  return {
    mode,
    promisesCreated,
    promisesSettled: settled,
    promisesPending: promisesCreated - settled,
    promisesAbandoned: abandoned.length + abandonedDropped,
    resources: byType,
  };
}
