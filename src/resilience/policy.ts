// The Policy contract and the one way every built-in policy runs a call, so that wrap() composes
// them without a race per layer.
import { afterFunc, type Context } from '../context/index.js';
import { assertContext, assertFunction, hold, release } from '../context/internal.js';

/**
 * Policy is what every resilience policy implements. `execute` runs `fn` under the policy and
 * hands it a context derived from `ctx` (or `ctx` itself when the policy adds no deadline). A
 * caller whose `ctx` ends gets `ctx.err` at once, whatever `fn` does; the work may keep running
 * under its cancelled context, and any permit it holds is kept until it settles. A cancellation by
 * the caller is never counted as a failure of the dependency.
 */
export interface Policy {
  execute<T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T>;
}

/**
 * @internal
 * RUN is the inner entry of a built-in policy: the policy's logic without the race against the
 * caller's context. wrap() chains RUNs and races once at the outside; a single policy's execute
 * races once too. A user-written Policy has no RUN and is called through execute.
 */
export const RUN: unique symbol = Symbol('leash.resilience.run');

/**
 * @internal
 * RACES marks a built-in policy whose RUN already settles with ctx.err as soon as the caller's
 * context ends, whatever fn does (a timeout races its derived context, whose end follows the
 * caller's). execute and wrap skip their own race for it: one race per call, not two.
 */
export const RACES: unique symbol = Symbol('leash.resilience.races');

/** @internal A policy built by this layer. */
export interface InnerPolicy extends Policy {
  [RUN]<T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T>;
  readonly [RACES]?: boolean;
}

/** @internal Calls `fn(ctx)` and always returns a promise: a synchronous throw becomes a rejection. */
export function invoke<T>(fn: (ctx: Context) => Promise<T>, ctx: Context): Promise<T> {
  try {
    const r = fn(ctx);
    return r instanceof Promise ? r : Promise.resolve(r);
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * @internal
 * execute is the public entry shared by every built-in policy: it checks the arguments, answers a
 * caller whose context is already done with ctx.err, and otherwise races the policy's RUN against
 * the caller's context (race unregisters as soon as either side settles).
 */
export function execute<T>(
  policy: InnerPolicy,
  ctx: Context,
  fn: (ctx: Context) => Promise<T>,
  where: string,
): Promise<T> {
  if (typeof (ctx as Context | undefined)?.value !== 'function') assertContext(ctx, where);
  if (typeof fn !== 'function') assertFunction(fn, where, 'fn');
  const err = ctx.err;
  if (err !== undefined) return Promise.reject(err);
  if (policy[RACES] === true) return policy[RUN](ctx, fn);
  return race(ctx, policy[RUN](ctx, fn));
}

/**
 * @internal
 * race settles as `work` does, or rejects with ctx.err (in a microtask) once `ctx` ends first,
 * unregistering from `ctx` as soon as either happens: the core's abortable() without its
 * diagnostics (a late rejection of abandoned work is simply handled), measured at about a third of
 * its cost in bench/resilience.bench.ts. While pending on a context with a deadline it keeps the
 * process alive until that deadline, as every leash wait does.
 */
export function race<T>(ctx: Context, work: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const held = ctx.deadline !== undefined;
    if (held) hold();
    const stop = afterFunc(ctx, () => {
      if (done) return;
      done = true;
      if (held) release();
      reject(ctx.err);
    });
    work.then(
      (v) => {
        if (done) return;
        done = true;
        stop();
        if (held) release();
        resolve(v);
      },
      (e: unknown) => {
        if (done) return;
        done = true;
        stop();
        if (held) release();
        reject(e);
      },
    );
  });
}

/** @internal Runs `p` under `ctx` through its RUN when it is a built-in policy, else its execute. */
export function runInner<T>(p: Policy, ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T> {
  const run = (p as Partial<InnerPolicy>)[RUN];
  if (run !== undefined) return run.call(p, ctx, fn) as Promise<T>;
  try {
    return p.execute(ctx, fn);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** @internal Throws LEASH_ERR_INVALID_ARG unless `p` is a Policy. */
export function isPolicy(p: unknown): p is Policy {
  return typeof p === 'object' && p !== null && typeof (p as Policy).execute === 'function';
}
