import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CancelCauseFunc, Context } from '../context/index.js';
import {
  afterFunc,
  cause,
  isContext,
  isDeadlineExceeded,
  withCancelCause,
  withDeadline,
  withValue,
} from '../context/index.js';
import { ClientGoneError, invalidArg, responseFinished } from './errors.js';
import { publishEnd, publishStart } from './request-events.js';
import { acceptRequestId, requestIdKey } from './request-id.js';
import { parseRequestTimeout } from './request-timeout.js';
import { parseTraceparent, traceparentKey } from './traceparent.js';

/** RequestContextOptions configures the per-request context of every leash/http adapter. */
export interface RequestContextOptions {
  /**
   * timeoutMs is the deadline given to a request that sends no valid `x-request-timeout` header.
   * Default: none (the request ends only with its response, its client or the root context).
   */
  timeoutMs?: number;
  /**
   * maxTimeoutMs caps every request deadline, whether it came from the header or from timeoutMs.
   * Default: none. Set it on any server reachable by clients you do not control.
   */
  maxTimeoutMs?: number;
  /** timeoutStatus is the status sent when the deadline passes before the handler answered. Default: 504. */
  timeoutStatus?: number;
  /**
   * asyncLocalStorage makes the request context reachable through currentContext(). Default: true.
   * On Node 20, AsyncLocalStorage runs on async_hooks and costs every async operation of the
   * process a little (see the README's numbers); set false when every call gets `ctx` explicitly.
   * It is process-wide: once any adapter has used it, the cost is paid by all.
   */
  asyncLocalStorage?: boolean;
}

// The cancel function of each response whose request context is live, for serve()'s drain deadline.
// A side table, not a property on res: frameworks that swap the response's prototype (Express) make
// adding a property to it a slow path on Node 20 (measured: the single costliest line of the adapter).
const liveCancels = new WeakMap<ServerResponse, CancelCauseFunc>();

/**
 * requestContext derives the context of one request from root and ties it to the response: it is
 * cancelled when the client goes away before the response is complete (cause ClientGoneError), when
 * the response has been sent (cause responseFinished), or at its deadline (DeadlineExceededError; the
 * client then gets `timeoutStatus` unless headers were already sent). The deadline is the request's
 * valid `x-request-timeout` header, else opts.timeoutMs, capped by opts.maxTimeoutMs; it never
 * extends root's own deadline. It also sets the values requestIdKey and traceparentKey, and echoes
 * `x-request-id` on the response.
 *
 * It publishes `leash:http:request-start` and `leash:http:request-end` (with the cause) on
 * node:diagnostics_channel when someone subscribes.
 *
 * The adapters call it for you; call it yourself only to support another framework built on
 * node:http. Call it once per request, before the handler runs. Nothing leaks if the handler forgets
 * the context: it ends with the response, and the response always ends (its socket closes at the
 * latest).
 */
export function requestContext(
  root: Context,
  req: IncomingMessage,
  res: ServerResponse,
  opts: RequestContextOptions = {},
): Context {
  const headers = req.headers;
  const id = acceptRequestId(headers['x-request-id']);
  if (!res.headersSent) res.setHeader('x-request-id', id);
  let base = withValue(root, requestIdKey, id);
  const tp = headers.traceparent;
  if (tp !== undefined) {
    const trace = parseTraceparent(tp);
    if (trace !== undefined) base = withValue(base, traceparentKey, trace);
  }
  const [owned, cancel] = withCancelCause(base);
  liveCancels.set(res, cancel);

  let timeout = parseRequestTimeout(headers['x-request-timeout']) ?? opts.timeoutMs;
  if (opts.maxTimeoutMs !== undefined && (timeout === undefined || timeout > opts.maxTimeoutMs)) {
    timeout = opts.maxTimeoutMs;
  }
  let ctx = owned;
  let stopTimeoutReply: (() => boolean) | undefined;
  // A deadline costs a second context and a callback; requests without one pay for neither.
  if (timeout !== undefined || root.deadline !== undefined) {
    if (timeout !== undefined) [ctx] = withDeadline(owned, Date.now() + timeout);
    const status = opts.timeoutStatus ?? 504;
    const deadlineCtx = ctx;
    stopTimeoutReply = afterFunc(deadlineCtx, () => {
      if (isDeadlineExceeded(deadlineCtx.err) && !res.headersSent && !res.writableEnded) {
        replyTimeout(res, status);
      }
    });
  }

  // 'close' fires once per response; `on` skips the wrapper `once` allocates.
  const event = publishStart(req, res, ctx);
  res.on('close', () => {
    stopTimeoutReply?.();
    liveCancels.delete(res);
    cancel(res.writableFinished ? responseFinished : new ClientGoneError());
    publishEnd(event, cause(ctx));
  });
  return ctx;
}

function replyTimeout(res: ServerResponse, status: number): void {
  const body = 'request deadline exceeded\n';
  res.statusCode = status;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}

/**
 * cancelRequest cancels the context of a request still in flight with the given cause and returns
 * true, or returns false when res has no live leash context. Used by serve() at its drain deadline.
 */
export function cancelRequest(res: ServerResponse, cause: unknown): boolean {
  const cancel = liveCancels.get(res);
  if (cancel === undefined) return false;
  cancel(cause);
  return true;
}

/** assertContext throws LEASH_ERR_INVALID_ARG unless value is a Context (the core's isContext). */
export function assertContext(value: unknown, what: string): asserts value is Context {
  if (!isContext(value)) {
    throw invalidArg(`${what} must be a leash Context (for example background() or signalContext(...))`);
  }
}

/** checkOptions validates RequestContextOptions once, when an adapter is created. */
export function checkOptions(opts: RequestContextOptions): void {
  for (const name of ['timeoutMs', 'maxTimeoutMs'] as const) {
    const v = opts[name];
    if (v !== undefined && (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v))) {
      throw invalidArg(`${name} must be a finite number of milliseconds >= 0, got ${String(v)}`);
    }
  }
  if (opts.asyncLocalStorage !== undefined && typeof opts.asyncLocalStorage !== 'boolean') {
    throw invalidArg(`asyncLocalStorage must be a boolean, got ${String(opts.asyncLocalStorage)}`);
  }
  const s = opts.timeoutStatus;
  if (s !== undefined && (!Number.isInteger(s) || s < 100 || s > 599)) {
    throw invalidArg(`timeoutStatus must be an HTTP status code (100-599), got ${String(s)}`);
  }
}
