import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context } from '../context/index.js';
import { describe, invalidArg, isContext } from '../context/internal.js';

// One store for every adapter: a request handled by any of them sees its own context here. Created
// on first use, so a process whose adapters never turn asyncLocalStorage on never builds one (on
// Node 20, the first run() turns on a process-wide promise hook).
let store: AsyncLocalStorage<Context> | undefined;

/**
 * currentContext returns the context of the request being handled, through AsyncLocalStorage, for
 * code that cannot take a `ctx` parameter (a logger, a third-party callback). It returns undefined
 * outside a request, and inside requests of adapters created without `asyncLocalStorage: true`
 * (off by default: on Node 20 it slows every await of the process, see docs/http.md). Passing `ctx`
 * explicitly is still the better habit: it shows in the signature which calls can be cancelled.
 */
export function currentContext(): Context | undefined {
  return store?.getStore();
}

/** runWithContext runs fn with ctx as the current context (internal to the adapters). */
export function runWithContext<R>(ctx: Context, fn: () => R): R {
  store ??= new AsyncLocalStorage<Context>();
  return store.run(ctx, fn);
}

/** runWithout runs fn as is: the adapters' runner when asyncLocalStorage is off. */
function runWithout<R>(_ctx: Context, fn: () => R): R {
  return fn();
}

/** contextRunner picks, once per adapter, how its handlers are run: AsyncLocalStorage only when asked. */
export function contextRunner(useStorage: boolean | undefined): <R>(ctx: Context, fn: () => R) => R {
  return useStorage === true ? runWithContext : runWithout;
}

/**
 * contextOf returns the leash request context an adapter attached to a request: `req.ctx`
 * (withContext, expressContext), `request.ctx` (fastifyContext) or Koa's `ctx.state.ctx`
 * (koaContext). It throws (code LEASH_ERR_INVALID_ARG) when there is none, which means the adapter
 * is not mounted before this route: a clearer failure than a TypeError on `undefined` later.
 */
export function contextOf(req: object): Context {
  const where = 'contextOf(req)';
  if (req === null || typeof req !== 'object') {
    throw invalidArg(`${where}: req must be a request (or Koa context), got ${describe(req)}`);
  }
  const direct = (req as { ctx?: unknown }).ctx;
  if (isContext(direct)) return direct;
  const state = (req as { state?: { ctx?: unknown } }).state;
  const viaState = state !== null && typeof state === 'object' ? state.ctx : undefined;
  if (isContext(viaState)) return viaState;
  throw invalidArg(
    `${where}: this request has no leash context; mount the adapter (withContext, expressContext, fastifyContext or koaContext) before this route`,
  );
}
