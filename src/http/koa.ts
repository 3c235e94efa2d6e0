import type { Middleware } from 'koa';
import type { Context } from '../context/index.js';
import { isCanceled, isDeadlineExceeded } from '../context/index.js';
import { contextRunner } from './current-context.js';
import type { RequestContextOptions } from './request-context.js';
import { assertContext, checkOptions, requestContext } from './request-context.js';

/** LeashState is the part of Koa's `ctx.state` that koaContext() fills in. */
export interface LeashState {
  /** ctx is the leash request context. */
  ctx: Context;
}

/**
 * koaContext returns Koa middleware that gives each request a context derived from root, as
 * `ctx.state.ctx` and through currentContext(). Use it first: `app.use(koaContext(root))`. See
 * requestContext for when the context ends. It does not import koa at run time.
 */
export function koaContext(root: Context, opts: RequestContextOptions = {}): Middleware<LeashState> {
  assertContext(root, 'koaContext(root): root');
  checkOptions(opts);
  const runWithContext = contextRunner(opts.asyncLocalStorage);
  const status = opts.timeoutStatus ?? 504;
  return (kctx, next) => {
    const ctx = requestContext(root, kctx.req, kctx.res, opts);
    kctx.state.ctx = ctx;
    return runWithContext(ctx, next).then(undefined, (err: unknown) => {
      throw forKoa(err, status);
    });
  };
}

// Koa's error handling writes `status`, `headerSent` and `expose` onto the error it catches. leash's
// CanceledError and DeadlineExceededError are shared, frozen instances (Go's sentinels), so they are
// handed to Koa wrapped in a fresh error that carries them as `cause` (isCanceled/isDeadlineExceeded
// still recognise it through the cause chain).
function forKoa(err: unknown, timeoutStatus: number): unknown {
  if (typeof err !== 'object' || err === null || Object.isExtensible(err)) return err;
  const deadline = isDeadlineExceeded(err);
  const wrapped = new Error(String((err as Error).message ?? err), { cause: err }) as Error & {
    status: number;
    expose: boolean;
  };
  wrapped.name = (err as Error).name ?? 'Error';
  wrapped.status = deadline ? timeoutStatus : isCanceled(err) ? 503 : 500;
  wrapped.expose = false;
  return wrapped;
}
