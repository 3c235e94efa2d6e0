import { EventEmitter } from 'node:events';
import { newRecord, type TrackedRecord } from './record.js';

// Listener leaks (one listener added per request to a long-lived emitter or AbortSignal, never
// removed) hold no async resource, so async_hooks cannot see them. In debug mode leash wraps the
// add/remove methods of EventEmitter.prototype and EventTarget.prototype and records each listener
// with its creation stack until it is removed, its emitter is collected, or its AbortSignal aborts.

// biome-ignore lint/suspicious/noExplicitAny: the wrapped methods take any receiver and arguments.
type Listener = (this: any, ...args: any[]) => unknown;
type EventKey = string | symbol;

// The listener function lives only in this ephemeron table (alive while its emitter is): a strong
// reference from the global set would keep every closure over its emitter, and so the emitter, alive.
// The creation stack lives here too: an unformatted V8 stack holds the receiver of every frame, and
// listeners are mostly added by the emitter's own constructor or methods (`this.on(...)` in
// http.Agent, Koa's Application, streams), so a record holding it would keep its emitter alive forever.
interface Entry {
  readonly fn: unknown;
  readonly rec: TrackedRecord;
  readonly origin: Error | undefined;
  /** EventTarget listeners: the capture flag, part of the listener's identity (DOM). */
  readonly capture: boolean | undefined;
}
const byEmitter = new WeakMap<object, Map<EventKey, Entry[]>>();
const emitterIds = new WeakMap<object, number>();
const live = new Set<TrackedRecord>();
let lastEmitterId = 0;
let sweepAt = 4096;
let restore: (() => void) | undefined;
// EventTarget listeners added with `{ signal }`: the signal whose abort removes them. Read when
// asked (like a resource's liveness) rather than by listening, which would add a listener to every
// signal and bring Node's max-listeners warning closer.
const removedBy = new WeakMap<TrackedRecord, WeakRef<AbortSignal>>();

function emitterId(emitter: object): number {
  let id = emitterIds.get(emitter);
  if (id === undefined) emitterIds.set(emitter, (id = ++lastEmitterId));
  return id;
}

function add(
  emitter: object,
  event: EventKey,
  fn: unknown,
  above: Function,
  capture?: boolean,
): TrackedRecord | undefined {
  if (typeof fn !== 'function' && (typeof fn !== 'object' || fn === null)) return undefined;
  const type = emitter.constructor?.name ?? 'EventEmitter';
  const rec = newRecord('listener', type, undefined, undefined, above);
  if (rec === undefined) return undefined;
  const origin = rec.origin;
  Object.defineProperty(rec, 'origin', { get: originOf });
  rec.emitter = new WeakRef(emitter);
  rec.event = String(event);
  rec.emitterId = emitterId(emitter);
  let events = byEmitter.get(emitter);
  if (events === undefined) byEmitter.set(emitter, (events = new Map()));
  const list = events.get(event);
  if (list === undefined) events.set(event, [{ fn, rec, origin, capture }]);
  else list.push({ fn, rec, origin, capture });
  live.add(rec);
  if (live.size >= sweepAt) {
    liveListeners();
    sweepAt = Math.max(4096, live.size * 2);
  }
  return rec;
}

// The DOM's rules for EventTarget (https://dom.spec.whatwg.org/#add-an-event-listener): a listener
// is identified by type, callback and capture; adding one that is already there does nothing; the
// third argument is either the capture boolean or an options object with `capture`, `once` and
// `signal`.
function captureOf(options: unknown): boolean {
  if (typeof options === 'boolean') return options;
  if (typeof options === 'object' && options !== null)
    return Boolean((options as { capture?: unknown }).capture);
  return false;
}

function hasTargetListener(emitter: object, event: string, fn: unknown, capture: boolean): boolean {
  const list = byEmitter.get(emitter)?.get(event);
  return (
    list?.some(
      (entry) =>
        entry.fn === fn &&
        entry.capture === capture &&
        entry.rec.state === 'live' &&
        removedBy.get(entry.rec)?.deref()?.aborted !== true,
    ) ?? false
  );
}

// The `origin` getter of a listener record: its stack while its emitter is alive and it is attached.
function originOf(this: TrackedRecord): Error | undefined {
  const emitter = this.emitter?.deref();
  const list = emitter === undefined ? undefined : byEmitter.get(emitter)?.get(this.event ?? '');
  if (list !== undefined) for (const entry of list) if (entry.rec === this) return entry.origin;
  // The event key may be a symbol (rec.event is its String()): search every event of the emitter.
  for (const entries of (emitter === undefined ? undefined : byEmitter.get(emitter))?.values() ?? []) {
    for (const entry of entries) if (entry.rec === this) return entry.origin;
  }
  return undefined;
}

function end(rec: TrackedRecord): void {
  rec.state = 'closed';
  rec.endedAt = Date.now();
  live.delete(rec);
}

function remove(emitter: object, event: EventKey, fn: unknown, capture?: boolean): void {
  const list = byEmitter.get(emitter)?.get(event);
  if (list === undefined) return;
  // The most recently added match goes first, as EventEmitter.removeListener does.
  for (let i = list.length - 1; i >= 0; i--) {
    const entry = list[i]!;
    if (entry.capture !== capture || entry.rec.state !== 'live') continue;
    const target = entry.fn as (Listener & { listener?: unknown }) | undefined;
    if (target === fn || target?.listener === fn) {
      list.splice(i, 1);
      end(entry.rec);
      return;
    }
  }
}

// Forgets the entry of a listener that left without a remove call (its signal aborted).
function dropEntry(emitter: object, rec: TrackedRecord): void {
  const list = byEmitter.get(emitter)?.get(rec.event ?? '');
  const i = list?.findIndex((entry) => entry.rec === rec) ?? -1;
  if (i >= 0) list!.splice(i, 1);
}

function removeAll(emitter: object, event: EventKey | undefined): void {
  const events = byEmitter.get(emitter);
  if (events === undefined) return;
  for (const [key, list] of events) {
    if (event !== undefined && key !== event) continue;
    for (const entry of list) end(entry.rec);
    events.delete(key);
  }
}

/** enableListenerTracking wraps the listener methods; idempotent. */
export function enableListenerTracking(): void {
  if (restore !== undefined) return;
  const ee = EventEmitter.prototype as unknown as Record<string, Listener>;
  const et = EventTarget.prototype as unknown as Record<string, Listener>;
  const saved = {
    addListener: ee.addListener!,
    on: ee.on!,
    prependListener: ee.prependListener!,
    removeListener: ee.removeListener!,
    off: ee.off!,
    removeAllListeners: ee.removeAllListeners!,
    addEventListener: et.addEventListener!,
    removeEventListener: et.removeEventListener!,
  };
  const onWrapper = (original: Listener) => {
    const wrapper = function (this: object, event: EventKey, fn: unknown) {
      const result = original.call(this, event, fn);
      add(this, event, fn, wrapper);
      return result;
    };
    return wrapper;
  };
  ee.addListener = onWrapper(saved.addListener);
  ee.on = saved.on === saved.addListener ? ee.addListener : onWrapper(saved.on);
  ee.prependListener = onWrapper(saved.prependListener);
  const offWrapper = (original: Listener) =>
    function (this: object, event: EventKey, fn: unknown) {
      remove(this, event, fn);
      return original.call(this, event, fn);
    };
  ee.removeListener = offWrapper(saved.removeListener);
  ee.off = saved.off === saved.removeListener ? ee.removeListener : offWrapper(saved.off);
  ee.removeAllListeners = function (this: object, ...args: unknown[]) {
    removeAll(this, args.length === 0 ? undefined : (args[0] as EventKey));
    return saved.removeAllListeners.apply(this, args);
  };
  et.addEventListener = function addEventListener(
    this: object,
    event: string,
    fn: unknown,
    options?: unknown,
  ) {
    const capture = captureOf(options);
    // A duplicate (same type, callback and capture) is ignored by EventTarget: record it once.
    const duplicate = hasTargetListener(this, String(event), fn, capture);
    const result = saved.addEventListener.call(this, event, fn, options);
    if (duplicate) return result;
    // once listeners leave without calling removeEventListener, so they are not recorded.
    const opts = typeof options === 'object' && options !== null ? (options as ListenerOptions) : {};
    if (opts.once) return result;
    if (this instanceof AbortSignal && this.aborted) return result;
    const signal = opts.signal;
    // A listener added with an aborted signal is never added; one with a live signal leaves when it aborts.
    if (signal instanceof AbortSignal && signal.aborted) return result;
    const rec = add(this, String(event), fn, addEventListener, capture);
    if (rec !== undefined && signal instanceof AbortSignal) removedBy.set(rec, new WeakRef(signal));
    return result;
  };
  et.removeEventListener = function (this: object, event: string, fn: unknown, options?: unknown) {
    remove(this, String(event), fn, captureOf(options));
    return saved.removeEventListener.call(this, event, fn, options);
  };
  restore = () => {
    Object.assign(ee, {
      addListener: saved.addListener,
      on: saved.on,
      prependListener: saved.prependListener,
      removeListener: saved.removeListener,
      off: saved.off,
      removeAllListeners: saved.removeAllListeners,
    });
    Object.assign(et, {
      addEventListener: saved.addEventListener,
      removeEventListener: saved.removeEventListener,
    });
  };
}

/** disableListenerTracking puts the original methods back; records made stay. */
export function disableListenerTracking(): void {
  restore?.();
  restore = undefined;
}

interface ListenerOptions {
  once?: unknown;
  signal?: unknown;
}

interface MaybeDead {
  destroyed?: boolean;
  listening?: boolean;
  exitCode?: number | null;
  signalCode?: string | null;
  aborted?: boolean;
}

// An emitter that can never emit again makes its listeners dead weight, not a leak: a destroyed
// stream or socket, a server that stopped listening, an exited child process, an aborted signal.
function isFinished(emitter: object): boolean {
  const e = emitter as MaybeDead;
  if (emitter instanceof AbortSignal) return e.aborted === true;
  if (e.destroyed === true) return true;
  if (e.listening === false && 'address' in emitter) return true;
  // process has an exitCode too (set by a failing test runner long before exit): it can still emit.
  if (emitter === process) return false;
  return (
    (e.exitCode !== undefined && e.exitCode !== null) || (e.signalCode !== undefined && e.signalCode !== null)
  );
}

/**
 * liveListeners returns listeners still attached: not removed, and on an emitter that was not
 * collected and can still emit (not destroyed, closed, exited or aborted).
 */
export function liveListeners(): TrackedRecord[] {
  const out: TrackedRecord[] = [];
  for (const rec of live) {
    const emitter = rec.emitter?.deref();
    if (emitter === undefined || isFinished(emitter) || removedBy.get(rec)?.deref()?.aborted === true) {
      if (emitter !== undefined) dropEntry(emitter, rec);
      end(rec);
    } else out.push(rec);
  }
  return out;
}
