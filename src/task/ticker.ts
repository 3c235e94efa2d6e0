import { afterFunc, type Context, sleep } from '../context/index.js';
import { assertContext } from './assert-context.js';
import { invalidArg } from './errors.js';
import { canEnd } from './keep-alive.js';
import { enterWait, leaveWait, type Task, taskIn } from './registry.js';

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/**
 * ticker yields the time (`Date.now()`) every `ms` milliseconds until `ctx` ends or the loop is
 * left, as Go's `time.Ticker` read in a `select` with `ctx.Done()`:
 *
 * - It holds at most one tick: a consumer slower than `ms` gets the oldest waiting tick and the
 *   ones after it are dropped, as Go does, so a slow loop never builds a backlog.
 * - When `ctx` ends the loop ends quietly (check `ctx.err` afterwards if it matters); `break`,
 *   `return` or a throw in the loop stops the ticker at once. Either way no timer remains.
 * - Its interval keeps the process alive only while a consumer is waiting for a tick, so a ticker
 *   that is created and never iterated does not hold the process open (it still runs until `ctx`
 *   ends: give it a context that does).
 *
 * @example
 * for await (const now of ticker(ctx, 1000)) {
 *   report(now); // every second until ctx ends
 * }
 */
export function ticker(ctx: Context, ms: number): AsyncIterableIterator<number> {
  assertContext(ctx, 'ticker(ctx, ms)');
  if (typeof ms !== 'number' || !(ms > 0) || !Number.isFinite(ms))
    throw invalidArg(`ticker: ms must be a positive finite number, got ${String(ms)}`);
  return new Ticker(ctx, ms);
}

class Ticker implements AsyncIterableIterator<number> {
  readonly #ctx: Context;
  #interval: NodeJS.Timeout | undefined;
  #stopCtx: (() => boolean) | undefined;
  #pending: number | undefined = undefined;
  #resolve: ((r: IteratorResult<number, undefined>) => void) | undefined = undefined;
  #task: Task | undefined = undefined;

  constructor(ctx: Context, ms: number) {
    this.#ctx = ctx;
    if (ctx.err !== undefined) return;
    this.#interval = setInterval(() => this.#tick(), ms);
    this.#interval.unref();
    this.#stopCtx = canEnd(ctx) ? afterFunc(ctx, () => this.#stop()) : undefined;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<number, undefined>> {
    if (this.#interval === undefined || this.#ctx.err !== undefined) {
      this.#stop();
      return Promise.resolve(DONE);
    }
    if (this.#pending !== undefined) {
      const value = this.#pending;
      this.#pending = undefined;
      return Promise.resolve({ value, done: false });
    }
    if (this.#resolve !== undefined)
      return Promise.reject(
        invalidArg('ticker: next() called while a previous next() is still pending; await each tick'),
      );
    this.#interval.ref();
    const task = taskIn(this.#ctx);
    if (task !== undefined) {
      this.#task = task;
      enterWait(task, this, 'sleeping');
    }
    return new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  return(): Promise<IteratorResult<number, undefined>> {
    this.#stop();
    return Promise.resolve(DONE);
  }

  #tick(): void {
    const resolve = this.#resolve;
    if (resolve === undefined) {
      this.#pending ??= Date.now(); // keep the oldest tick; drop the rest
      return;
    }
    this.#wake();
    resolve({ value: Date.now(), done: false });
  }

  #wake(): void {
    this.#resolve = undefined;
    this.#interval?.unref();
    const task = this.#task;
    if (task !== undefined) leaveWait(task, this);
    this.#task = undefined;
  }

  #stop(): void {
    if (this.#interval !== undefined) {
      clearInterval(this.#interval);
      this.#interval = undefined;
    }
    if (this.#stopCtx !== undefined) {
      this.#stopCtx();
      this.#stopCtx = undefined;
    }
    this.#pending = undefined;
    const resolve = this.#resolve;
    if (resolve !== undefined) {
      this.#wake();
      resolve(DONE);
    }
  }
}

/**
 * after resolves with the time (`Date.now()`) once `ms` milliseconds have passed, as Go's
 * `time.After` read in a `select` with `ctx.Done()`; it rejects with `ctx.err` if `ctx` ends
 * first. It is the core's `sleep` plus the time, so it leaves no timer behind either way, keeps the
 * process alive while it waits (as a timer does), and shows the task as `sleeping` meanwhile.
 * Any `ms` >= 0 is accepted, Infinity included (it then waits for `ctx` alone); a finite `ms` over
 * 2^31-1 (about 24.8 days, the longest Node timer) is waited in steps of at most that, measured
 * on the monotonic clock, so it never fires early. NaN, negative or non-number `ms` throws
 * TypeError (LEASH_ERR_INVALID_ARG).
 */
export function after(ctx: Context, ms: number): Promise<number> {
  assertContext(ctx, 'after(ctx, ms)');
  if (typeof ms !== 'number' || !(ms >= 0))
    throw invalidArg(`after(ctx, ms): ms must be a number >= 0 (or Infinity), got ${String(ms)}`);
  // The core's sleep waits in steps beyond setTimeout's limit, so any duration works here too.
  return sleep(ctx, ms).then(Date.now);
}
