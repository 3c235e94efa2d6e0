import { type Watcher, watch } from './cancel-tree.js';
import type { Context } from './context.js';
import { hold, release } from './deadline-timers.js';
import { assertContext, describe, invalidArg } from './internal.js';
import { endWait, reportAbandonedRejection, startWait } from './wait-events.js';

// A getter that throws or a revoked proxy counts as "not a promise" rather than escaping as a raw
// TypeError.
function isThenable(v: unknown): v is PromiseLike<unknown> {
  try {
    return (
      (typeof v === 'object' || typeof v === 'function') &&
      v !== null &&
      typeof (v as PromiseLike<unknown>).then === 'function'
    );
  } catch {
    return false;
  }
}

/**
 * abortable settles as `work` does, or rejects with `ctx.err` if `ctx` is done first. It is the
 * leak-free `Promise.race([work, ctx.done])`: it unregisters from `ctx` as soon as either happens,
 * so a million calls on one long-lived context retain nothing once each `work` settles, where the
 * race would keep a reaction on `ctx.done` for each until `ctx` ends.
 *
 * abortable does not stop `work`; pass `ctx.signal` to it for that. If `work` rejects after `ctx`
 * won, the rejection is marked handled (the caller already has `ctx.err`) and published on the
 * diagnostics channel `leash:context:abandoned-rejection`. While pending on a context with a
 * deadline, abortable keeps the process alive until that deadline.
 *
 * @example
 * const body = await abortable(ctx, readBody(req));
 */
export function abortable<T>(ctx: Context, work: PromiseLike<T>): Promise<T> {
  assertContext(ctx, 'abortable(ctx, work)');
  if (!isThenable(work)) {
    throw invalidArg(
      `abortable(ctx, work): work must be a promise (call the function first), got ${describe(work)}`,
    );
  }
  const err = ctx.err;
  if (err !== undefined) {
    try {
      work.then(undefined, (e: unknown) => reportAbandonedRejection(e, ctx));
    } catch (e) {
      reportAbandonedRejection(e, ctx);
    }
    return Promise.reject(err);
  }
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const held = ctx.deadline !== undefined;
    if (held) hold();
    const msg = startWait('abortable', ctx);
    let w: Watcher | null = null;
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      w?.stop();
      if (held) release();
      endWait(msg);
      return true;
    };
    w = watch(ctx, (o) => {
      if (finish()) reject(o._errNow());
    });
    try {
      work.then(
        (v) => {
          if (finish()) resolve(v);
        },
        (e: unknown) => {
          if (finish()) reject(e);
          else reportAbandonedRejection(e, ctx);
        },
      );
    } catch (e) {
      // A thenable whose then() throws rejects as `await thenable` would: with what it threw.
      if (finish()) reject(e);
    }
  });
}
