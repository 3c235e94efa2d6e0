import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '../context/index.js';
import { isCanceled, isDeadlineExceeded } from '../context/index.js';
import { contextRunner } from './current-context.js';
import { invalidArg } from './errors.js';
import type { RequestContextOptions } from './request-context.js';
import { assertContext, checkOptions, requestContext } from './request-context.js';

/** ContextRequest is a node:http request with its leash context attached as `req.ctx`. */
export type ContextRequest<Req extends IncomingMessage = IncomingMessage> = Req & { ctx: Context };

/** ContextHandler is a node:http request handler that receives `req.ctx`; it may return a promise. */
export type ContextHandler<
  Req extends IncomingMessage = IncomingMessage,
  Res extends ServerResponse = ServerResponse,
> = (req: ContextRequest<Req>, res: Res) => unknown;

/**
 * withContext wraps a node:http (or node:https) request handler so that each request gets a context
 * derived from root, as `req.ctx` and through currentContext(). See requestContext for when that
 * context ends. If the handler returns a promise that rejects before a response was started, the
 * client gets 504 for a deadline, 500 otherwise (and a request whose client left gets nothing); a
 * rejection after the headers were sent destroys the response. Rejections are never left unhandled.
 *
 * @example
 * const server = http.createServer(withContext(background(), async (req, res) => {
 *   const upstream = await fetch(req.ctx, 'http://127.0.0.1:8081/stock');
 *   res.end(await upstream.text());
 * }, { maxTimeoutMs: 5_000 }));
 */
export function withContext<
  Req extends IncomingMessage = IncomingMessage,
  Res extends ServerResponse = ServerResponse,
>(
  root: Context,
  handler: ContextHandler<Req, Res>,
  opts: RequestContextOptions = {},
): (req: Req, res: Res) => void {
  assertContext(root, 'withContext(root, ...): root');
  if (typeof handler !== 'function')
    throw invalidArg('withContext(root, handler): handler must be a function');
  checkOptions(opts);
  const runWithContext = contextRunner(opts.asyncLocalStorage);
  const status = opts.timeoutStatus ?? 504;
  return (req, res) => {
    const ctx = requestContext(root, req, res, opts);
    (req as ContextRequest<Req>).ctx = ctx;
    let result: unknown;
    try {
      result = runWithContext(ctx, () => handler(req as ContextRequest<Req>, res));
    } catch (err) {
      failResponse(res, err, status);
      return;
    }
    if (
      result !== null &&
      typeof result === 'object' &&
      typeof (result as Promise<unknown>).then === 'function'
    ) {
      (result as Promise<unknown>).then(undefined, (err: unknown) => failResponse(res, err, status));
    }
  };
}

function failResponse(res: ServerResponse, err: unknown, timeoutStatus: number): void {
  if (res.writableEnded || res.destroyed) return;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = isDeadlineExceeded(err) ? timeoutStatus : isCanceled(err) ? 503 : 500;
  res.end();
}
