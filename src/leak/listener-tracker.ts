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
}
const byEmitter = new WeakMap<object, Map<EventKey, Entry[]>>();
const emitterIds = new WeakMap<object, number>();
const live = new Set<TrackedRecord>();
let lastEmitterId = 0;
let sweepAt = 4096;
let restore: (() => void) | undefined;

function emitterId(emitter: object): number {
  let id = emitterIds.get(emitter);
  if (id === undefined) emitterIds.set(emitter, (id = ++lastEmitterId));
  return id;
}

function add(emitter: object, event: EventKey, fn: unknown, above: Function): void {
  if (typeof fn !== 'function' && (typeof fn !== 'object' || fn === null)) return;
  const type = emitter.constructor?.name ?? 'EventEmitter';
  const rec = newRecord('listener', type, undefined, true, undefined, above);
  if (rec === undefined) return;
  const origin = rec.origin;
  Object.defineProperty(rec, 'origin', { get: originOf });
  rec.emitter = new WeakRef(emitter);
  rec.event = String(event);
  rec.emitterId = emitterId(emitter);
  let events = byEmitter.get(emitter);
  if (events === undefined) byEmitter.set(emitter, (events = new Map()));
  const list = events.get(event);
  if (list === undefined) events.set(event, [{ fn, rec, origin }]);
  else list.push({ fn, rec, origin });
  live.add(rec);
  if (live.size >= sweepAt) {
    liveListeners();
    sweepAt = Math.max(4096, live.size * 2);
  }
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

function remove(emitter: object, event: EventKey, fn: unknown): void {
  const list = byEmitter.get(emitter)?.get(event);
  if (list === undefined) return;
  // The most recently added match goes first, as EventEmitter.removeListener does.
  for (let i = list.length - 1; i >= 0; i--) {
    const entry = list[i]!;
    const target = entry.fn as (Listener & { listener?: unknown }) | undefined;
    if (target === fn || target?.listener === fn) {
      list.splice(i, 1);
      end(entry.rec);
      return;
    }
  }
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
    const result = saved.addEventListener.call(this, event, fn, options);
    // once listeners leave without calling removeEventListener, so they are not recorded.
    const once = typeof options === 'object' && options !== null && (options as { once?: boolean }).once;
    if (!once && !(this instanceof AbortSignal && this.aborted)) add(this, event, fn, addEventListener);
    return result;
  };
  et.removeEventListener = function (this: object, event: string, fn: unknown, options?: unknown) {
    remove(this, event, fn);
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
    if (emitter === undefined || isFinished(emitter)) end(rec);
    else out.push(rec);
  }
  return out;
}
