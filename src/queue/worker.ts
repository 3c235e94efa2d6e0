// A Worker takes jobs from a queue and runs each under its own context: the worker's context,
// the job's deadline, an optional per-attempt timeout, and queue.cancel(id) from any process.
import {
  afterFunc,
  type CancelCauseFunc,
  type CancelFunc,
  type Context,
  sleep,
  withCancel,
  withCancelCause,
  withDeadline,
} from '../context/index.js';
import { assertNumber, assertOptions, cancelChild, newChild, readOption } from '../context/internal.js';
import { type Backoff, exponentialBackoff } from '../resilience/index.js';
import { go } from '../task/index.js';
import type { Consumer, Delivery } from './backend.js';
import { DrainDeadlineError, JobCancelledError, JobDeadlineError } from './errors.js';
import {
  cancelChannel,
  deadLetterChannel,
  finishChannel,
  type JobOutcome,
  publish,
  retryChannel,
  startChannel,
} from './events.js';

/** Handler runs one job. It must honour `ctx`: when ctx ends, stop and reject (with ctx.err). */
export type Handler<J> = (ctx: Context, job: J) => Promise<void>;

/** WorkOptions configure queue.work(). */
export interface WorkOptions {
  /** concurrency is how many jobs this worker runs at once. Integer >= 1. Required. */
  readonly concurrency: number;
  /** retries is how many more attempts a failed job gets before it is dead-lettered. Default 0. */
  readonly retries?: number;
  /** backoff spaces retries (leashjs/resilience's constantBackoff or exponentialBackoff). Default: exponential from 100 ms to 30 s with full jitter. */
  readonly backoff?: Backoff;
  /** timeoutMs bounds each attempt: its context ends after this long and the attempt fails (and may retry). Default: none. */
  readonly timeoutMs?: number;
  /** name names the worker's task in tasks() and profiles. Default: `queue <name> worker`. */
  readonly name?: string;
}

/** DrainReport is what worker.drain() did, by job id. */
export interface DrainReport {
  /** completed lists jobs that finished successfully while the worker drained. */
  readonly completed: readonly string[];
  /** failed lists jobs whose attempt failed while the worker drained (each retried later or dead-lettered, as usual). */
  readonly failed: readonly string[];
  /** cancelled lists jobs still running at the drain deadline, whose contexts were cancelled (cause: DrainDeadlineError). */
  readonly cancelled: readonly string[];
  /** handedBack lists jobs returned to the queue unacknowledged, to run again elsewhere; their attempt is not counted. */
  readonly handedBack: readonly string[];
  /** ignoredCancel lists cancelled jobs whose handler had still not settled `graceMs` after the deadline: handed back anyway; their late result is discarded. */
  readonly ignoredCancel: readonly string[];
}

/** WorkerStats counts what a worker did since it started. */
export interface WorkerStats {
  readonly running: number;
  readonly completed: number;
  readonly failed: number;
  readonly retried: number;
  readonly deadLettered: number;
  readonly cancelled: number;
  readonly handedBack: number;
  readonly storeErrors: number;
}

interface Running {
  readonly d: Delivery;
  /** ctx is the job's own child of the worker's context (newChild), ended with cancelChild. */
  readonly ctx: Context;
  readonly cancelDeadline: CancelFunc | undefined;
  readonly startedAt: number;
  cancelRequested: boolean;
}

interface DrainState {
  readonly completed: string[];
  readonly failed: string[];
  readonly cancelled: string[];
  readonly handedBack: string[];
  readonly ignoredCancel: string[];
  wake: (() => void) | undefined;
}

// The documented default: leashjs/resilience's exponentialBackoff() (100 ms to 30 s, full jitter).
const DEFAULT_BACKOFF: Backoff = exponentialBackoff();
// Between fetches while the store is away: 100 ms doubling to 5 s, half of each wait random so
// that the workers of a fleet do not come back to a recovering Redis all at once.
const STORE_RETRY: Backoff = exponentialBackoff({ initialMs: 100, maxMs: 5_000, jitter: 'equal' });

/**
 * Worker runs jobs of one queue with a concurrency limit until its context ends or it is drained.
 * Make it with `queue.work(ctx, handler, opts)`.
 */
export class Worker {
  readonly #queue: string;
  readonly #consumer: Consumer;
  readonly #handler: (ctx: Context, job: unknown) => unknown;
  readonly #concurrency: number;
  readonly #maxAttempts: number;
  readonly #backoff: Backoff;
  readonly #timeoutMs: number | undefined;
  readonly #runCtx: Context;
  readonly #stopRun: CancelCauseFunc;
  readonly #fetchCtx: Context;
  readonly #stopFetch: CancelFunc;
  readonly #running = new Map<string, Running>();
  #slotWaiter: (() => void) | undefined;
  #refilling = false;
  #drain: DrainState | undefined;
  #drainPromise: Promise<DrainReport> | undefined;
  #loopEnded = false;
  #finished = false;
  #resolveDone!: () => void;
  readonly #onStoreError: (err: unknown) => void;
  #stats = {
    completed: 0,
    failed: 0,
    retried: 0,
    deadLettered: 0,
    cancelled: 0,
    handedBack: 0,
    storeErrors: 0,
  };

  /**
   * done resolves when the worker has stopped: its loop ended (context ended or drained) and every
   * job it started has settled or was handed back. It never rejects.
   */
  readonly done: Promise<void>;

  /** @internal Use queue.work(). */
  constructor(
    ctx: Context,
    queue: string,
    consumer: Consumer,
    handler: (ctx: Context, job: unknown) => unknown,
    opts: {
      concurrency: number;
      retries: number;
      backoff: Backoff | undefined;
      timeoutMs: number | undefined;
      name: string | undefined;
      onStoreError: (err: unknown) => void;
    },
  ) {
    this.#queue = queue;
    this.#consumer = consumer;
    this.#handler = handler;
    this.#concurrency = opts.concurrency;
    this.#maxAttempts = opts.retries + 1;
    this.#backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.#timeoutMs = opts.timeoutMs;
    this.#onStoreError = opts.onStoreError;
    [this.#runCtx, this.#stopRun] = withCancelCause(ctx);
    [this.#fetchCtx, this.#stopFetch] = withCancel(this.#runCtx);
    this.done = new Promise<void>((resolve) => {
      this.#resolveDone = resolve;
    });
    consumer.onCancel((id, reason) => this.#cancelRunning(id, reason));
    const handle = go(this.#fetchCtx, (c) => this.#loop(c), { name: opts.name ?? `queue ${queue} worker` });
    handle.done.then(
      () => this.#loopDone(),
      (err) => {
        this.#storeError(err);
        this.#loopDone();
      },
    );
  }

  /** running is the number of jobs this worker is running now. */
  get running(): number {
    return this.#running.size;
  }

  /** stats counts what this worker did; a new frozen object per read. */
  get stats(): WorkerStats {
    return Object.freeze({ running: this.#running.size, ...this.#stats });
  }

  /**
   * drain stops taking jobs, lets running ones finish for up to `ms`, then cancels the rest (their
   * ctx.err is a CanceledError, cause DrainDeadlineError) and hands each back to the queue
   * unacknowledged, so another worker runs it; it resolves with what happened to each job. A
   * handler that ignores its context is waited for another `graceMs` (default 1000), then handed
   * back anyway and listed in `ignoredCancel`. Calling drain again returns the same report (the
   * first call's `ms` and `graceMs` apply); its arguments are checked on every call, so a bad one
   * rejects with LEASH_ERR_INVALID_ARG also once the worker has stopped.
   */
  drain(ms: number, opts?: { readonly graceMs?: number }): Promise<DrainReport> {
    const where = 'worker.drain(ms, opts)';
    let graceMs: number | undefined;
    // Checked on every call, also once the worker has stopped: bad arguments never pass silently.
    try {
      assertNumber(ms, where, 'ms', { min: 0, unit: 'milliseconds' });
      graceMs = readOption(assertOptions(opts, where, ['graceMs']), 'graceMs', where);
      // Only a missing graceMs means the default: null is checked, and refused, like any non-number.
      if (graceMs === undefined) graceMs = 1000;
      assertNumber(graceMs, where, 'graceMs', { min: 0, unit: 'milliseconds' });
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#drainPromise !== undefined) return this.#drainPromise;
    const state: DrainState = {
      completed: [],
      failed: [],
      cancelled: [],
      handedBack: [],
      ignoredCancel: [],
      wake: undefined,
    };
    this.#drain = state;
    this.#stopFetch();
    this.#drainPromise = this.#runDrain(state, ms, graceMs);
    return this.#drainPromise;
  }

  /** Symbol.asyncDispose drains with a 10 s deadline: `await using w = queue.work(...)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.drain(10_000);
  }

  async #runDrain(state: DrainState, ms: number, graceMs: number): Promise<DrainReport> {
    await this.#waitIdle(state, ms);
    if (this.#running.size > 0) {
      for (const r of this.#running.values()) state.cancelled.push(r.d.id);
      this.#stopRun(new DrainDeadlineError(this.#queue, ms));
      await this.#waitIdle(state, graceMs);
      for (const r of [...this.#running.values()]) {
        // Ignored its context for graceMs: hand it back now and discard whatever it does later.
        state.ignoredCancel.push(r.d.id);
        this.#settle(r, 'handed-back', undefined);
      }
    }
    this.#stopRun(new DrainDeadlineError(this.#queue, ms));
    this.#finishIfIdle();
    await this.done;
    this.#drain = undefined;
    return Object.freeze({
      completed: Object.freeze(state.completed),
      failed: Object.freeze(state.failed),
      cancelled: Object.freeze(state.cancelled),
      handedBack: Object.freeze(state.handedBack),
      ignoredCancel: Object.freeze(state.ignoredCancel),
    });
  }

  // #waitIdle resolves when nothing runs, or after `ms`.
  #waitIdle(state: DrainState, ms: number): Promise<void> {
    if (this.#running.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        state.wake = undefined;
        resolve();
      }, ms);
      state.wake = () => {
        clearTimeout(timer);
        state.wake = undefined;
        resolve();
      };
    });
  }

  async #loop(ctx: Context): Promise<void> {
    const stop = afterFunc(ctx, () => this.#wakeSlot());
    let failures = 0;
    try {
      while (ctx.err === undefined) {
        const free = this.#concurrency - this.#running.size;
        if (free <= 0) {
          await new Promise<void>((resolve) => {
            this.#slotWaiter = resolve;
          });
          continue;
        }
        let batch = this.#consumer.tryFetch?.(free);
        if (batch === undefined || batch.length === 0) {
          try {
            batch = await this.#consumer.fetch(ctx, free);
            failures = 0;
          } catch (err) {
            // The store is away (Redis down, a cut connection): say so, wait, and try again, until
            // the worker's context ends. Jobs already running go on.
            this.#storeError(err);
            failures++;
            await sleep(ctx, STORE_RETRY.delayMs(failures, 0)).catch(() => undefined);
            continue;
          }
        }
        for (const d of batch) {
          // Fetched after the worker stopped taking jobs: give it straight back.
          if (ctx.err !== undefined) this.#handBackUnstarted(d);
          else this.#start(d);
        }
      }
      // Jobs the store fetched ahead for this worker never start here: they go back.
      const ahead = (await this.#consumer.takeBack?.()) ?? [];
      for (const d of ahead) this.#handBackUnstarted(d);
    } finally {
      stop();
    }
  }

  #wakeSlot(): void {
    const w = this.#slotWaiter;
    this.#slotWaiter = undefined;
    w?.();
  }

  #start(d: Delivery): void {
    const now = Date.now();
    if (startChannel.hasSubscribers)
      publish(startChannel, () => ({
        queue: this.#queue,
        id: d.id,
        attempt: d.attempt,
        waitMs: Math.max(0, now - d.readyAt),
      }));
    const jobCtx = newChild(this.#runCtx);
    let runCtx: Context = jobCtx;
    let cancelDeadline: CancelFunc | undefined;
    let limit = d.deadline ?? Number.POSITIVE_INFINITY;
    if (this.#timeoutMs !== undefined) limit = Math.min(limit, now + this.#timeoutMs);
    if (limit !== Number.POSITIVE_INFINITY) [runCtx, cancelDeadline] = withDeadline(jobCtx, limit);
    const r: Running = {
      d,
      ctx: jobCtx,
      cancelDeadline,
      startedAt: now,
      cancelRequested: false,
    };
    this.#running.set(d.id, r);
    if (d.deadline !== undefined && d.deadline <= now) {
      this.#settle(r, 'failed', new JobDeadlineError(this.#queue, d.id, false));
      return;
    }
    let result: unknown;
    try {
      result = this.#handler(runCtx, d.data);
    } catch (err) {
      this.#settle(r, 'failed', err);
      return;
    }
    if (result !== null && typeof (result as PromiseLike<unknown>)?.then === 'function') {
      (result as PromiseLike<unknown>).then(
        () => this.#settle(r, 'completed', undefined),
        (err: unknown) => this.#settle(r, 'failed', err),
      );
    } else {
      this.#settle(r, 'completed', undefined);
    }
  }

  #settle(r: Running, how: 'completed' | 'failed' | 'handed-back', error: unknown): void {
    if (this.#running.get(r.d.id) !== r) return; // already handed back after ignoring its cancel
    const d = r.d;
    // Read before the store is told: a memory store hands the same record to the next attempt,
    // which another worker may take synchronously (a retry with no delay).
    const attempt = d.attempt;
    const drain = this.#drain;
    let outcome: JobOutcome;
    if (how === 'completed') {
      outcome = 'completed';
      this.#stats.completed++;
      drain?.completed.push(d.id);
      this.#store(this.#consumer.complete(d));
    } else if (how === 'handed-back' || (!r.cancelRequested && this.#runCtx.err !== undefined)) {
      outcome = 'handed-back';
      this.#stats.handedBack++;
      drain?.handedBack.push(d.id);
      this.#store(this.#consumer.handBack(d));
    } else if (r.cancelRequested) {
      outcome = 'cancelled';
      this.#stats.cancelled++;
      this.#store(this.#consumer.cancelled(d));
    } else {
      outcome = 'failed';
      this.#stats.failed++;
      drain?.failed.push(d.id);
      this.#failed(d, error);
    }
    this.#running.delete(d.id);
    cancelChild(r.ctx, undefined);
    r.cancelDeadline?.();
    if (finishChannel.hasSubscribers)
      finishChannel.publish(
        Object.freeze({
          queue: this.#queue,
          id: d.id,
          attempt,
          outcome,
          runMs: Date.now() - r.startedAt,
        }),
      );
    if (this.#slotWaiter !== undefined && !this.#refill()) this.#wakeSlot();
    if (this.#running.size === 0) {
      drain?.wake?.();
      this.#finishIfIdle();
    }
  }

  // #refill starts the next jobs in the slots settling freed, when the store can hand them over
  // at once, while the loop waits for a slot: a worker that keeps busy from a backlog then pays no
  // loop turn (a promise and two microtasks) per job. False: the loop must take over (nothing
  // ready now, the worker is stopping, or a job settled inside a refill, which must not recurse).
  #refill(): boolean {
    if (this.#refilling || this.#drain !== undefined || this.#fetchCtx.err !== undefined) return false;
    const tryFetch = this.#consumer.tryFetch;
    if (tryFetch === undefined) return false;
    const free = this.#concurrency - this.#running.size;
    if (free <= 0) return true;
    const batch = tryFetch.call(this.#consumer, free);
    if (batch.length === 0) return false;
    this.#refilling = true;
    try {
      for (const d of batch) {
        // A job started before it may have stopped the worker (drain, its context): hand back.
        if (this.#drain !== undefined || this.#fetchCtx.err !== undefined) this.#handBackUnstarted(d);
        else this.#start(d);
      }
    } finally {
      this.#refilling = false;
    }
    // A job that settled during the refill left its slot to the loop, which is awake then.
    return this.#slotWaiter !== undefined;
  }

  #failed(d: Delivery, error: unknown): void {
    const now = Date.now();
    const deadline = d.deadline ?? Number.POSITIVE_INFINITY;
    let dead: unknown;
    if (now >= deadline)
      dead = error instanceof JobDeadlineError ? error : new JobDeadlineError(this.#queue, d.id, true, error);
    else if (d.attempt >= this.#maxAttempts) dead = error;
    else {
      let delayMs = this.#backoff.delayMs(d.attempt, 0);
      if (!(delayMs >= 0)) delayMs = 0;
      // No retry starts that cannot start before the job's deadline: dead-letter with the last error.
      if (now + delayMs >= deadline) dead = error;
      else {
        this.#stats.retried++;
        publish(retryChannel, () => ({ queue: this.#queue, id: d.id, attempt: d.attempt, delayMs, error }));
        this.#store(this.#consumer.retry(d, delayMs));
        return;
      }
    }
    this.#stats.deadLettered++;
    publish(deadLetterChannel, () => ({ queue: this.#queue, id: d.id, attempts: d.attempt, error: dead }));
    this.#store(this.#consumer.deadLetter(d, dead));
  }

  #handBackUnstarted(d: Delivery): void {
    this.#stats.handedBack++;
    this.#drain?.handedBack.push(d.id);
    this.#store(this.#consumer.handBack(d));
  }

  #cancelRunning(id: string, reason: unknown): void {
    const r = this.#running.get(id);
    if (r === undefined || r.cancelRequested) return;
    r.cancelRequested = true;
    publish(cancelChannel, () => ({ queue: this.#queue, id, running: true }));
    cancelChild(r.ctx, new JobCancelledError(this.#queue, id, reason));
  }

  #store(p: void | Promise<void>): void {
    if (p !== undefined) p.then(undefined, (err: unknown) => this.#storeError(err));
  }

  #storeError(err: unknown): void {
    this.#stats.storeErrors++;
    this.#onStoreError(err);
  }

  #loopDone(): void {
    this.#loopEnded = true;
    this.#finishIfIdle();
  }

  // #finishIfIdle ends the worker once, when its loop has ended and nothing runs.
  #finishIfIdle(): void {
    if (this.#finished || !this.#loopEnded || this.#running.size > 0) return;
    this.#finished = true;
    this.#stopRun(undefined);
    this.#consumer.close().then(
      () => this.#resolveDone(),
      (err: unknown) => {
        this.#storeError(err);
        this.#resolveDone();
      },
    );
  }
}
