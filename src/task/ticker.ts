import { afterFunc, type Context, sleep } from '../context/index.js';
import { assertContext, assertNumber, invalidArg } from '../context/internal.js';
import { canEnd } from './keep-alive.js';
import { enterWait, leaveWait, type Task, taskIn } from './registry.js';

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

// setTimeout's and setInterval's largest delay; Node turns a longer one into 1 ms (with a warning),
// so a longer period is waited in steps of at most this, measured on the monotonic clock.
const TIMEOUT_MAX = 2 ** 31 - 1;

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
 *   ends: give it a context that does; that timer is what leaks if neither ends).
 * - `ms` is any finite number > 0; a period over 2^31-1 ms (about 24.8 days, Node's longest timer)
 *   is waited in steps, so it never fires early. Anything else throws TypeError
 *   (LEASH_ERR_INVALID_ARG). Calling `next()` again while a tick is awaited rejects, with the
 *   same code: await each tick.
 *
 * @example
 * for await (const now of ticker(ctx, 1000)) {
 *   report(now); // every second until ctx ends
 * }
 */
export function ticker(ctx: Context, ms: number): AsyncIterableIterator<number> {
  const where = 'ticker(ctx, ms)';
  assertContext(ctx, where);
  // Number.MIN_VALUE: a period must be > 0, and the message says so (not ">= 0").
  assertNumber(ms, where, 'ms', { min: Number.MIN_VALUE, unit: 'milliseconds' });
  return new Ticker(ctx, ms);
}

class Ticker implements AsyncIterableIterator<number> {
  readonly #ctx: Context;
  readonly #ms: number;
  // A setInterval when ms fits a Node timer, else the current step of a setTimeout chain.
  #interval: NodeJS.Timeout | undefined;
  // For the stepped form: when the next tick is due (performance.now()), and whether the current
  // step's timer should keep the process alive.
  #due = 0;
  #refd = false;
  #stopCtx: (() => boolean) | undefined;
  #pending: number | undefined = undefined;
  #resolve: ((r: IteratorResult<number, undefined>) => void) | undefined = undefined;
  #task: Task | undefined = undefined;

  constructor(ctx: Context, ms: number) {
    this.#ctx = ctx;
    this.#ms = ms;
    if (ctx.err !== undefined) return;
    if (ms <= TIMEOUT_MAX) this.#interval = setInterval(() => this.#tick(), ms);
    else {
      this.#due = performance.now() + ms;
      this.#step();
    }
    this.#interval?.unref();
    this.#stopCtx = canEnd(ctx) ? afterFunc(ctx, () => this.#stop()) : undefined;
  }

  // One step of a period longer than a Node timer: tick when due, then wait for the next due time.
  #step(): void {
    const now = performance.now();
    if (now >= this.#due) {
      this.#tick();
      if (this.#interval === undefined) return; // the tick stopped the ticker
      // Like Go's Ticker, a late tick does not make the next one come sooner than a period.
      this.#due = Math.max(this.#due + this.#ms, now);
    }
    const delay = Math.min(TIMEOUT_MAX, Math.max(1, Math.ceil(this.#due - performance.now())));
    const t = setTimeout(() => this.#step(), delay);
    if (!this.#refd) t.unref();
    this.#interval = t;
  }

  #ref(on: boolean): void {
    this.#refd = on;
    if (on) this.#interval?.ref();
    else this.#interval?.unref();
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
        invalidArg(
          'ticker(ctx, ms): next() called while a previous next() is still pending; await each tick',
        ),
      );
    this.#ref(true);
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
    this.#ref(false);
    const task = this.#task;
    if (task !== undefined) leaveWait(task, this);
    this.#task = undefined;
  }

  #stop(): void {
    if (this.#interval !== undefined) {
      clearTimeout(this.#interval); // clears an interval too
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
 * on the monotonic clock, so it never fires early. NaN, negative or non-number `ms` (a string, a
 * boxed number, an object) throws TypeError (LEASH_ERR_INVALID_ARG), never a coercion error.
 */
export function after(ctx: Context, ms: number): Promise<number> {
  assertContext(ctx, 'after(ctx, ms)');
  assertNumber(ms, 'after(ctx, ms)', 'ms', { min: 0, infinite: true, unit: 'milliseconds' });
  // The core's sleep waits in steps beyond setTimeout's limit, so any duration works here too.
  return sleep(ctx, ms).then(Date.now);
}
