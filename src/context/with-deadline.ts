import { assertContext } from './base-context.js';
import { CancelCtx, cancelFuncOf } from './cancel-tree.js';
import type { CancelFunc, Context } from './context.js';
import { scheduleDeadline } from './deadline-timers.js';
import { DEADLINE_EXCEEDED, invalidArg } from './errors.js';
import { describe } from './key.js';

function toEpochMs(at: unknown, where: string): number {
  if (at instanceof Date) {
    const t = at.getTime();
    if (Number.isNaN(t)) throw invalidArg(`${where}: the Date is invalid`);
    return t;
  }
  if (typeof at !== 'number' || Number.isNaN(at)) {
    throw invalidArg(
      `${where}: expected a Date or epoch milliseconds (as Date.now() returns), got ${describe(at)}`,
    );
  }
  return at;
}

function toTimeoutMs(ms: unknown, where: string): number {
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) {
    throw invalidArg(
      `${where}: expected a timeout in milliseconds, a number >= 0 (or Infinity), got ${describe(ms)}`,
    );
  }
  return ms;
}

function deadlineCtx(parent: Context, at: number, cause: unknown): [Context, CancelFunc] {
  const pd = parent.deadline;
  // The parent's deadline is already sooner: the child is a plain cancel context (Go does the same).
  if (at === Number.POSITIVE_INFINITY || (pd !== undefined && pd <= at)) {
    const c = new CancelCtx(parent, pd, 'WithCancel');
    return [c, cancelFuncOf(c)];
  }
  const c = new CancelCtx(parent, at, 'WithDeadline');
  if (c._err === undefined) {
    const timerCause = cause === undefined ? DEADLINE_EXCEEDED : cause;
    if (at <= Date.now()) c._cancel(DEADLINE_EXCEEDED, timerCause);
    else {
      c._timerCause = timerCause;
      scheduleDeadline(c);
    }
  }
  return [c, cancelFuncOf(c)];
}

/**
 * withDeadline returns a child of `parent` that is done at `at` (a Date, or epoch milliseconds as
 * `Date.now()` counts them) with a DeadlineExceededError, or earlier when `cancel` is called or the
 * parent is done. A deadline later than the parent's changes nothing (the child is a plain
 * `withCancel`); one already past makes a child that is done at once. `Infinity` means no deadline.
 * Every deadline shares one Node timer, which does not by itself keep the process alive. Call
 * `cancel` when the work is over: it removes the deadline at once.
 */
export function withDeadline(parent: Context, at: number | Date): [Context, CancelFunc] {
  assertContext(parent, 'withDeadline(parent, at)');
  return deadlineCtx(parent, toEpochMs(at, 'withDeadline(parent, at)'), undefined);
}

/**
 * withDeadlineCause is {@link withDeadline} that, when the deadline passes, records `cause` as
 * `cause(ctx)`. The cause is used only then: `cancel()` still records a CanceledError.
 */
export function withDeadlineCause(parent: Context, at: number | Date, cause: unknown): [Context, CancelFunc] {
  assertContext(parent, 'withDeadlineCause(parent, at, cause)');
  return deadlineCtx(parent, toEpochMs(at, 'withDeadlineCause(parent, at, cause)'), cause);
}

/**
 * withTimeout is `withDeadline(parent, Date.now() + ms)`. `ms` must be a number >= 0; `0` gives a
 * context that is already done, `Infinity` one with no deadline of its own.
 *
 * @example
 * const [ctx, cancel] = withTimeout(parent, 2_000);
 * using _ = cancel;
 * const rows = await query(ctx, pool, 'select ...');
 */
export function withTimeout(parent: Context, ms: number): [Context, CancelFunc] {
  assertContext(parent, 'withTimeout(parent, ms)');
  return deadlineCtx(parent, Date.now() + toTimeoutMs(ms, 'withTimeout(parent, ms)'), undefined);
}

/** withTimeoutCause is {@link withTimeout} with a cause recorded when the timeout fires. */
export function withTimeoutCause(parent: Context, ms: number, cause: unknown): [Context, CancelFunc] {
  assertContext(parent, 'withTimeoutCause(parent, ms, cause)');
  return deadlineCtx(parent, Date.now() + toTimeoutMs(ms, 'withTimeoutCause(parent, ms, cause)'), cause);
}

/**
 * remaining returns the milliseconds left until `ctx`'s deadline: `Infinity` when it has none, `0`
 * when it has passed. Use it to budget downstream calls (a query's statement timeout, a header).
 */
export function remaining(ctx: Context): number {
  assertContext(ctx, 'remaining(ctx)');
  const d = ctx.deadline;
  if (d === undefined) return Number.POSITIVE_INFINITY;
  return Math.max(0, d - Date.now());
}

/** @internal Shared with sleep(): validates a duration. */
export { toTimeoutMs };
