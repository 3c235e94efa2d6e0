import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '../context/index.js';
import { assertContext } from '../context/internal.js';
import { contextRunner } from './current-context.js';
import type { RequestContextOptions } from './request-context.js';
import { checkOptions, createRequestContext } from './request-context.js';

// Types `req.ctx` on Express's Request. Declared on the global `Express` namespace, which
// @types/express merges into its Request: without @types/express installed this declares an unused
// namespace and nothing fails. Optional: a route mounted before expressContext() has none.
declare global {
  namespace Express {
    interface Request {
      /** ctx is the leash request context, set by expressContext(); undefined before it ran. */
      ctx?: Context;
    }
  }
}

/**
 * ExpressContextMiddleware is the middleware expressContext() returns. Its types are structural (an
 * IncomingMessage, a ServerResponse, a next function), so leash's declarations need neither express
 * nor @types/express; `app.use()` accepts it.
 */
export type ExpressContextMiddleware = (
  req: IncomingMessage & { ctx?: Context },
  res: ServerResponse,
  next: (err?: unknown) => void,
) => void;

/**
 * expressContext returns Express 5 middleware that gives each request a context derived from root,
 * as `req.ctx` (and through currentContext() when opts.asyncLocalStorage is true). Mount it first
 * (`app.use(expressContext(root))`) so that every later middleware and route sees it. See
 * requestContext for when the context ends. It does not import express at run time.
 *
 * `req.ctx` is typed `Context | undefined` (a route mounted before the middleware has none): use
 * contextOf(req), which returns it or throws a clear error.
 *
 * @example
 * app.use(expressContext(background(), { timeoutMs: 5_000 }));
 * app.get('/orders', async (req, res) => {
 *   res.json(await query(contextOf(req), pool, 'SELECT * FROM orders'));
 * });
 */
export function expressContext(root: Context, opts?: RequestContextOptions | null): ExpressContextMiddleware {
  assertContext(root, 'expressContext(root, opts)');
  const o = checkOptions(opts, 'expressContext(root, opts)');
  const runWithContext = contextRunner(o.asyncLocalStorage);
  return (req, res, next) => {
    const ctx = createRequestContext(root, req, res, o);
    req.ctx = ctx;
    runWithContext(ctx, next);
  };
}
