// One load per key at a time, shared by every caller that asks while it runs, and cancelled only
// when all of them have gone.
//
// The loader does not run under any caller's context: a caller that gives up (its deadline, its
// client hanging up) must not break the load for the others (the flaw of Caffeine #870, where the
// first caller's cancellation fails every waiter). It runs under a context of its own, derived with
// withoutCancel from the first caller's, so it sees that caller's values (trace ids, auth) but
// none of its cancellation, bounded by `loadTimeoutMs`. Each caller waits with abortable(), so it
// leaves on its own context's end, unregistering everything; the waiter count falls as they leave,
// and when it reaches zero before the load settles the loader's context is cancelled (cause
// LoadAbandonedError) and its result, if it still comes, is dropped. A background refresh is
// "pinned": nobody waits for it, so it is never cancelled that way, only by loadTimeoutMs.

import {
  abortable,
  type CancelCauseFunc,
  type Context,
  withCancelCause,
  withoutCancel,
  withTimeout,
} from '../context/index.js';
import { describe, invalidArg } from '../context/internal.js';
import { LoadAbandonedError, LoadTimeoutError } from './errors.js';
import type { LoadOutcome } from './events.js';

/** Flight is one running load. */
export interface Flight<V> {
  readonly key: string;
  readonly promise: Promise<V>;
  readonly tags: readonly string[] | undefined;
  readonly refresh: boolean;
  waiters: number;
  /** detached: the result will not be stored (a delete, set or clear came after the load started). */
  detached: boolean;
  settled: boolean;
  /** cancel ends the loader's context. */
  readonly cancel: CancelCauseFunc;
}

/** LoadStore receives a load's outcome; SingleFlight never touches the memory tier itself. */
export interface LoadStore<V> {
  store(flight: Flight<V>, value: V): void;
  settled(flight: Flight<V>, outcome: LoadOutcome, durationMs: number, error: unknown): void;
}

/** SingleFlight tracks the loads of one cache. Not a public export. */
export class SingleFlight<V> {
  readonly #flights = new Map<string, Flight<V>>();
  readonly #name: string;
  readonly #loadTimeoutMs: number;
  readonly #sink: LoadStore<V>;

  constructor(name: string, loadTimeoutMs: number, sink: LoadStore<V>) {
    this.#name = name;
    this.#loadTimeoutMs = loadTimeoutMs;
    this.#sink = sink;
  }

  /** size is the number of loads running and still attached, for tests. */
  get size(): number {
    return this.#flights.size;
  }

  /** get returns the running, attached load for `key`, if any. */
  get(key: string): Flight<V> | undefined {
    return this.#flights.get(key);
  }

  /**
   * start runs `loader` for `key` under a context of its own derived from `ctx` (values only),
   * and registers the flight so later callers join it. `refresh` pins it (see above).
   */
  start(
    ctx: Context,
    key: string,
    loader: (ctx: Context) => PromiseLike<V>,
    tags: readonly string[] | undefined,
    refresh: boolean,
  ): Flight<V> {
    const [cancellable, cancel] = withCancelCause(withoutCancel(ctx));
    let loadCtx = cancellable;
    let cancelTimer: (() => void) | undefined;
    if (this.#loadTimeoutMs !== Number.POSITIVE_INFINITY)
      [loadCtx, cancelTimer] = withTimeout(cancellable, this.#loadTimeoutMs);
    const started = performance.now();
    let work: PromiseLike<V>;
    try {
      work = loader(loadCtx);
      if (work === null || typeof (work as { then?: unknown })?.then !== 'function') {
        work = Promise.reject(
          invalidArg(
            `${this.#name}.getOrLoad(ctx, key, loader): loader must return a promise (write it as an async function), got ${describe(work)}`,
          ),
        );
      }
    } catch (e) {
      work = Promise.reject(e);
    }
    const flight = {
      key,
      tags,
      refresh,
      waiters: 0,
      detached: false,
      settled: false,
      cancel,
      promise: undefined as unknown as Promise<V>,
    };
    const name = this.#name;
    const timeoutMs = this.#loadTimeoutMs;
    flight.promise = abortable(loadCtx, work).then(
      (value) => {
        this.#finish(flight, cancelTimer);
        if (!flight.detached) this.#sink.store(flight, value);
        this.#sink.settled(flight, 'ok', performance.now() - started, undefined);
        return value;
      },
      (error: unknown) => {
        // Classify before #finish cancels the contexts: our own deadline (loadTimeoutMs) is
        // neither the callers' cancellation nor abandonment.
        const abandoned = cancellable.err !== undefined;
        const timedOut = !abandoned && error === loadCtx.err && loadCtx.err !== undefined;
        this.#finish(flight, cancelTimer);
        const ms = performance.now() - started;
        if (timedOut) {
          this.#sink.settled(flight, 'timeout', ms, error);
          throw new LoadTimeoutError(name, key, timeoutMs, error);
        }
        this.#sink.settled(flight, abandoned ? 'abandoned' : 'error', ms, error);
        throw error;
      },
    );
    // Nobody may be waiting when it rejects (a refresh, an abandoned load): never unhandled.
    flight.promise.catch(() => {});
    this.#flights.set(key, flight);
    return flight;
  }

  /**
   * wait joins `flight` for one caller: resolves with its value, rejects with its error, or with
   * `ctx.err` as soon as `ctx` ends, whichever comes first. The last waiter to leave an unpinned,
   * unsettled flight cancels it.
   */
  async wait(ctx: Context, flight: Flight<V>): Promise<V> {
    flight.waiters++;
    try {
      return await abortable(ctx, flight.promise);
    } finally {
      flight.waiters--;
      if (flight.waiters === 0 && !flight.settled && !flight.refresh) this.#abandon(flight);
    }
  }

  /** detach makes the running load for `key` (if any) not store its result; its waiters still get it. */
  detach(key: string): void {
    const f = this.#flights.get(key);
    if (!f) return;
    f.detached = true;
    this.#flights.delete(key);
  }

  /** detachTag detaches every running load that would store with `tag`. */
  detachTag(tag: string): void {
    for (const f of [...this.#flights.values()]) if (f.tags?.includes(tag)) this.detach(f.key);
  }

  /** detachAll detaches every running load. */
  detachAll(): void {
    for (const key of [...this.#flights.keys()]) this.detach(key);
  }

  #abandon(flight: Flight<V>): void {
    flight.detached = true;
    if (this.#flights.get(flight.key) === flight) this.#flights.delete(flight.key);
    flight.cancel(new LoadAbandonedError(this.#name, flight.key));
  }

  #finish(flight: Flight<V>, cancelTimer: (() => void) | undefined): void {
    flight.settled = true;
    if (this.#flights.get(flight.key) === flight) this.#flights.delete(flight.key);
    cancelTimer?.();
    flight.cancel(undefined);
  }
}
