import { assertContext } from './base-context.js';
import { watch } from './cancel-tree.js';
import type { Context } from './context.js';
import { holdDeadlines, releaseDeadlines } from './deadline-timers.js';
import { invalidArg } from './errors.js';
import { describe } from './key.js';
import { endWait, reportAbandonedRejection, startWait } from './wait-events.js';

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    (typeof v === 'object' || typeof v === 'function') &&
    v !== null &&
    typeof (v as PromiseLike<unknown>).then === 'function'
  );
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
    work.then(undefined, (e: unknown) => reportAbandonedRejection(e, ctx));
    return Promise.reject(err);
  }
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const held = ctx.deadline !== undefined;
    if (held) holdDeadlines();
    const msg = startWait('abortable', ctx);
    const w = watch(ctx, (e) => {
      if (settled) return;
      settled = true;
      if (held) releaseDeadlines();
      endWait(msg);
      reject(e);
    });
    work.then(
      (v) => {
        if (settled) return;
        settled = true;
        w?.stop();
        if (held) releaseDeadlines();
        endWait(msg);
        resolve(v);
      },
      (e: unknown) => {
        if (settled) {
          reportAbandonedRejection(e, ctx);
          return;
        }
        settled = true;
        w?.stop();
        if (held) releaseDeadlines();
        endWait(msg);
        reject(e);
      },
    );
  });
}
