import type { NextFunction, Request, Response } from 'express';
import type { Context } from '../context/index.js';
import { contextRunner } from './current-context.js';
import type { RequestContextOptions } from './request-context.js';
import { assertContext, checkOptions, requestContext } from './request-context.js';

declare global {
  namespace Express {
    interface Request {
      /** ctx is the leash request context, set by expressContext(). */
      ctx: Context;
    }
  }
}

/**
 * expressContext returns Express 5 middleware that gives each request a context derived from root,
 * as `req.ctx` and through currentContext(). Mount it first (`app.use(expressContext(root))`) so that
 * every later middleware and route sees it. See requestContext for when the context ends. It does
 * not import express at run time.
 *
 * @example
 * app.use(expressContext(background(), { maxTimeoutMs: 5_000 }));
 * app.get('/orders', async (req, res) => {
 *   res.json(await query(req.ctx, pool, 'SELECT * FROM orders'));
 * });
 */
export function expressContext(
  root: Context,
  opts: RequestContextOptions = {},
): (req: Request, res: Response, next: NextFunction) => void {
  assertContext(root, 'expressContext(root): root');
  checkOptions(opts);
  const runWithContext = contextRunner(opts.asyncLocalStorage);
  return (req, res, next) => {
    const ctx = requestContext(root, req, res, opts);
    req.ctx = ctx;
    runWithContext(ctx, next);
  };
}
