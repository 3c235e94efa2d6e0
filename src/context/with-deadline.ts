import { isDate } from 'node:util/types';
import { background } from './background.js';
import { CancelCtx, cancelFuncOf, whenOf } from './cancel-tree.js';
import type { CancelFunc, Context } from './context.js';
import { scheduleDeadline } from './deadline-timers.js';
import { DEADLINE_KIND } from './errors.js';
import { assertContext, assertNumber, describe, invalidArg, keepShape, tree } from './internal.js';
import { ContextKey } from './key.js';
import { withValue } from './with-value.js';

const SHAPE_KEY = new ContextKey<number>('leash.shape');

// A Date or epoch ms. isDate() tests the internal slot, so an object that only claims to be a Date
// (a proxy, Object.create(Date.prototype)) is rejected instead of throwing from getTime().
function toEpochMs(at: unknown, where: string): number {
  if (isDate(at)) {
    const t = (at as Date).getTime();
    if (Number.isNaN(t)) throw invalidArg(`${where}: at is an invalid Date`);
    return t;
  }
  if (typeof at !== 'number' || Number.isNaN(at)) {
    throw invalidArg(
      `${where}: at must be a Date or epoch milliseconds (as Date.now() returns), got ${describe(at)}`,
    );
  }
  return at;
}

/** @internal Validates a duration in ms: a number >= 0, Infinity allowed. Shared with sleep(). */
export function toTimeoutMs(ms: unknown, where: string): number {
  if (typeof ms === 'number' && ms >= 0) return ms; // the common case; NaN and negatives fall through
  assertNumber(ms, where, 'ms', { min: 0, infinite: true, unit: 'milliseconds' });
  return ms;
}

// `when` is on the monotonic clock, `at` in epoch ms; both name the same instant. `now` is performance.now() read by the caller.
function deadlineCtx(
  parent: Context,
  at: number,
  when: number,
  now: number,
  cause: unknown,
): [Context, CancelFunc] {
  const c = deadlineChild(parent, at, when, now, cause);
  return [c, cancelFuncOf(c)];
}

function deadlineChild(parent: Context, at: number, when: number, now: number, cause: unknown): CancelCtx {
  const pw = whenOf(parent);
  // The parent's deadline is already sooner: the child is a plain cancel context (Go does the same).
  if (when === Number.POSITIVE_INFINITY || (pw !== undefined && pw <= when)) {
    return new CancelCtx(parent, 'WithCancel');
  }
  // Sooner on the monotonic clock, but the two clocks are read a moment apart: never report an
  // epoch deadline later than the parent's.
  const pd = parent.deadline;
  const c = new CancelCtx(parent, 'WithDeadline', pd !== undefined && pd < at ? pd : at, when);
  if (c._outcome === null) {
    if (when <= now) c._cancelSelf(DEADLINE_KIND, cause);
    else {
      c._cause = cause; // the cause if the timer fires; see CancelCtx._cause
      scheduleDeadline(c);
    }
  }
  return c;
}

// For a layer that derives a timeout context per call on a hot path (see tree in internal.ts).
tree.timeoutChild = (parent, ms, cause) => {
  const now = performance.now();
  return deadlineChild(parent, Date.now() + ms, now + ms, now, cause);
};

function atDeadline(parent: Context, atArg: unknown, cause: unknown, where: string): [Context, CancelFunc] {
  assertContext(parent, where);
  const at = toEpochMs(atArg, where);
  // Converted once, now: from here on the deadline is a point on the monotonic clock.
  const now = performance.now();
  const when = at === Number.POSITIVE_INFINITY ? at : now + (at - Date.now());
  return deadlineCtx(parent, at, when, now, cause);
}

function afterTimeout(parent: Context, msArg: unknown, cause: unknown, where: string): [Context, CancelFunc] {
  assertContext(parent, where);
  const ms = toTimeoutMs(msArg, where);
  // Two clock reads: the monotonic one runs the timer, the epoch one is what ctx.deadline reports
  // (deriving it lazily from the monotonic one saved ~60 ns but let a preemption between the two
  // reads shift the reported deadline by milliseconds under load).
  const now = performance.now();
  return deadlineCtx(parent, Date.now() + ms, now + ms, now, cause);
}

/**
 * withDeadline returns a child of `parent` that is done at `at` (a Date, or epoch milliseconds as
 * `Date.now()` counts them) with a DeadlineExceededError, or earlier when `cancel` is called or the
 * parent is done. `at` is read against the wall clock once, when the context is made; from then
 * on the deadline runs on the monotonic clock, so a later step of the system clock does not move
 * it (`ctx.deadline` keeps reporting `at`). A deadline later than the parent's changes nothing
 * (the child is a plain `withCancel`); one already past makes a child that is done at once.
 * `Infinity` means no deadline. Every deadline shares one Node timer, which does not by itself
 * keep the process alive. Call `cancel` when the work is over: it removes the deadline at once;
 * skipping it keeps the child linked in its parent and its timer entry until the deadline.
 */
export function withDeadline(parent: Context, at: number | Date): [Context, CancelFunc] {
  return atDeadline(parent, at, undefined, 'withDeadline(parent, at)');
}

/**
 * withDeadlineCause is {@link withDeadline} that, when the deadline passes, records `cause` as
 * `cause(ctx)`. The cause is used only then: `cancel()` still records a CanceledError.
 */
export function withDeadlineCause(parent: Context, at: number | Date, cause: unknown): [Context, CancelFunc] {
  return atDeadline(parent, at, cause, 'withDeadlineCause(parent, at, cause)');
}

/**
 * withTimeout returns a child of `parent` that is done `ms` milliseconds from now, measured on the
 * monotonic clock (a step of the system clock changes nothing); `ctx.deadline` reports the
 * corresponding epoch time, `Date.now() + ms`. `ms` must be a number >= 0; `0` gives a context
 * that is already done, `Infinity` one with no deadline of its own. Otherwise as
 * {@link withDeadline}: call `cancel` when the work is over.
 *
 * @example
 * const [ctx, cancel] = withTimeout(parent, 2_000);
 * using _ = cancel;
 * const rows = await query(ctx, pool, 'select ...');
 */
export function withTimeout(parent: Context, ms: number): [Context, CancelFunc] {
  return afterTimeout(parent, ms, undefined, 'withTimeout(parent, ms)');
}

/** withTimeoutCause is {@link withTimeout} with a cause recorded when the timeout fires. */
export function withTimeoutCause(parent: Context, ms: number, cause: unknown): [Context, CancelFunc] {
  return afterTimeout(parent, ms, cause, 'withTimeoutCause(parent, ms, cause)');
}

/**
 * remaining returns the milliseconds left until `ctx`'s deadline: `Infinity` when it has none, `0`
 * when it has passed. It is measured on the monotonic clock for leash's own deadlines, so it stays
 * right when the system clock steps. Use it to budget downstream calls (a query's statement
 * timeout, a header), rather than `ctx.deadline - Date.now()`.
 */
export function remaining(ctx: Context): number {
  assertContext(ctx, 'remaining(ctx)');
  const w = whenOf(ctx);
  if (w === undefined) return Number.POSITIVE_INFINITY;
  return Math.max(0, w - performance.now());
}

// Contexts and cancel functions are made and dropped per request: keep one of each layout a
// derive makes (a cancel context, a value context, a cancel function), so a full GC between
// requests does not throw away the code compiled for them (keep-shape.ts). Its deadline is already
// past when it is made, so it is done at once and never touches the deadline timer: importing
// leash arms no timer.
{
  const [timed, cancel] = afterTimeout(background(), 0, undefined, 'keepShape');
  keepShape(timed);
  keepShape(cancel);
  keepShape(withValue(timed, SHAPE_KEY, 0));
}
