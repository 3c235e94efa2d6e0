import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '../context/index.js';
import { assertContext } from '../context/internal.js';
import { contextRunner } from './current-context.js';
import { forFramework } from './errors.js';
import type { RequestContextOptions } from './request-context.js';
import { checkOptions, createRequestContext } from './request-context.js';

/** LeashState is the part of Koa's `ctx.state` that koaContext() fills in. */
export interface LeashState {
  /** ctx is the leash request context. */
  ctx: Context;
}

/**
 * KoaContextLike is the part of Koa's context that koaContext() uses. Structural, so leash's types
 * need neither koa nor @types/koa installed; Koa's own context satisfies it.
 */
export interface KoaContextLike {
  req: IncomingMessage;
  res: ServerResponse;
  state: LeashState;
}

/** KoaContextMiddleware is the middleware koaContext() returns; `app.use()` accepts it. */
export type KoaContextMiddleware = (kctx: KoaContextLike, next: () => Promise<unknown>) => Promise<void>;

/**
 * koaContext returns Koa middleware that gives each request a context derived from root, as
 * `ctx.state.ctx` (and through currentContext() when opts.asyncLocalStorage is true). Use it first:
 * `app.use(koaContext(root))`. See requestContext for when the context ends. It does not import koa
 * at run time.
 *
 * Errors that leave the rest of the chain are handed to Koa as they are, except leash's own
 * (ctx.err, a cause, or an error wrapping a cancellation or deadline with no status of its own):
 * Koa gets a fresh error with `status` 503 (cancelled) or 504 (deadline; option timeoutStatus) and
 * the original as `cause`, so Koa never writes on leash's objects.
 */
export function koaContext(root: Context, opts?: RequestContextOptions | null): KoaContextMiddleware {
  assertContext(root, 'koaContext(root, opts)');
  const o = checkOptions(opts, 'koaContext(root, opts)');
  const runWithContext = contextRunner(o.asyncLocalStorage);
  const status = o.timeoutStatus ?? 504;
  return (kctx, next) => {
    const ctx = createRequestContext(root, kctx.req, kctx.res, o);
    kctx.state.ctx = ctx;
    return runWithContext(ctx, next).then(undefined, (err: unknown) => {
      throw forFramework(err, status);
    });
  };
}
