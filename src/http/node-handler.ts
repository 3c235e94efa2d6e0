import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '../context/index.js';
import { isCanceled, isDeadlineExceeded } from '../context/index.js';
import { assertContext, assertFunction, describe } from '../context/internal.js';
import { contextRunner } from './current-context.js';
import { ClientGoneError, ServerShutdownError, statusFor } from './errors.js';
import type { RequestContextOptions } from './request-context.js';
import { checkOptions, createRequestContext } from './request-context.js';
import { hasHandlerErrorSubscribers, publishHandlerError } from './request-events.js';

/** ContextRequest is a node:http request with its leash context attached as `req.ctx`. */
export type ContextRequest<Req extends IncomingMessage = IncomingMessage> = Req & { ctx: Context };

/** ContextHandler is a node:http request handler that receives `req.ctx`; it may return a promise. */
export type ContextHandler<
  Req extends IncomingMessage = IncomingMessage,
  Res extends ServerResponse = ServerResponse,
> = (req: ContextRequest<Req>, res: Res) => unknown;

/**
 * HandlerErrorHandler is withContext's `onError`: called with what the handler threw or rejected
 * with, before leash answers. It may answer the response itself; if it does not, leash answers the
 * default status (504 deadline, 503 cancelled, 500 otherwise).
 */
export type HandlerErrorHandler<
  Req extends IncomingMessage = IncomingMessage,
  Res extends ServerResponse = ServerResponse,
> = (err: unknown, req: ContextRequest<Req>, res: Res) => void;

/** WithContextOptions are RequestContextOptions plus withContext's onError. */
export interface WithContextOptions<
  Req extends IncomingMessage = IncomingMessage,
  Res extends ServerResponse = ServerResponse,
> extends RequestContextOptions {
  /**
   * onError is called when the handler throws or rejects. Default: errors other than the request's
   * own cancellation or deadline are printed with console.error (with method and URL), so that a
   * failing handler is never silent; a cancelled or timed-out request is expected and stays quiet.
   */
  onError?: HandlerErrorHandler<Req, Res>;
}

/**
 * withContext wraps a node:http (or node:https) request handler so that each request gets a context
 * derived from root, as `req.ctx` (and through currentContext() with asyncLocalStorage: true). See
 * requestContext for when that context ends.
 *
 * If the handler throws or returns a promise that rejects: opts.onError is called (default:
 * console.error for anything but a cancellation or deadline), the error is published on
 * `leash:http:handler-error`, and, unless onError answered, the client gets 504 for a deadline
 * (timeoutStatus), 503 for a cancellation, 500 otherwise; a request whose client left gets nothing,
 * and one whose headers were already sent is destroyed. Rejections are never left unhandled.
 *
 * @example
 * const server = http.createServer(withContext(background(), async (req, res) => {
 *   const upstream = await fetch(req.ctx, 'http://127.0.0.1:8081/stock');
 *   res.end(await upstream.text());
 * }, { timeoutMs: 5_000 }));
 */
export function withContext<
  Req extends IncomingMessage = IncomingMessage,
  Res extends ServerResponse = ServerResponse,
>(
  root: Context,
  handler: ContextHandler<Req, Res>,
  opts?: WithContextOptions<Req, Res> | null,
): (req: Req, res: Res) => void {
  const where = 'withContext(root, handler, opts)';
  assertContext(root, where);
  assertFunction(handler, where, 'handler');
  const o = checkOptions(opts, where, ['onError']);
  const onError = opts?.onError;
  if (onError !== undefined) assertFunction(onError, where, 'opts.onError');
  const runWithContext = contextRunner(o.asyncLocalStorage);
  const status = o.timeoutStatus ?? 504;
  const fail = (req: ContextRequest<Req>, res: Res, err: unknown) =>
    handlerFailed(req, res, err, status, onError);
  return (req, res) => {
    const ctx = createRequestContext(root, req, res, o);
    const r = req as ContextRequest<Req>;
    r.ctx = ctx;
    let result: unknown;
    try {
      result = runWithContext(ctx, () => handler(r, res));
    } catch (err) {
      fail(r, res, err);
      return;
    }
    if (
      result !== null &&
      typeof result === 'object' &&
      typeof (result as Promise<unknown>).then === 'function'
    ) {
      (result as Promise<unknown>).then(undefined, (err: unknown) => fail(r, res, err));
    }
  };
}

function handlerFailed<Req extends IncomingMessage, Res extends ServerResponse>(
  req: ContextRequest<Req>,
  res: Res,
  err: unknown,
  timeoutStatus: number,
  onError: HandlerErrorHandler<Req, Res> | undefined,
): void {
  if (onError !== undefined) {
    try {
      onError(err, req, res);
    } catch (thrown) {
      console.error(`leashjs/http: withContext's onError threw while handling ${where(req)}:`, thrown);
    }
  } else if (!expected(err)) {
    console.error(`leashjs/http: the handler for ${where(req)} failed:`, err);
  }
  let status = 0;
  if (!res.writableEnded && !res.destroyed) {
    if (res.headersSent) res.destroy();
    else {
      status = statusFor(err, timeoutStatus);
      res.statusCode = status;
      res.end();
    }
  } else if (res.writableEnded && res.headersSent) {
    status = res.statusCode;
  }
  if (hasHandlerErrorSubscribers()) publishHandlerError(req, res, req.ctx, err, status);
}

/** expected: the request's own end (cancellation, deadline, client gone, shutdown) is not a failure to report. */
function expected(err: unknown): boolean {
  return (
    isCanceled(err) ||
    isDeadlineExceeded(err) ||
    err instanceof ClientGoneError ||
    err instanceof ServerShutdownError
  );
}

function where(req: IncomingMessage): string {
  try {
    return `${String(req.method)} ${String(req.url).slice(0, 200)}`;
  } catch {
    return describe(req);
  }
}
