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

/** RequestContextOptions configures the per-request context of every leashjs/http adapter. */
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

// serve() needs the cancel function of every request in flight on its server at the drain deadline.
// It hangs a table on the server, and request contexts created on that server register there. Only
// served servers pay for it, and nothing is added to res: a new property on a response whose
// prototype a framework swapped (Express) is a slow path on Node 20 (measured: it was the costliest
// line of the adapter: `npm run http:profile -- express` in bench/), and a WeakMap entry per request
// costs more than the rest of the context (its entries are ephemerons the GC must trace).
const kLiveRequests = Symbol('leash.http.liveRequests');
type LiveRequests = Map<ServerResponse, CancelCauseFunc>;
type Served = { [kLiveRequests]?: LiveRequests };

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
  const live = (req.socket as { server?: Served } | null | undefined)?.server?.[kLiveRequests];
  live?.set(res, cancel);

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
    live?.delete(res);
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
 * trackLiveRequests makes every request context created from now on for a request on server
 * register its cancel function in the returned table (removed when its response closes), and returns
 * that table. serve() uses it to cancel what is still running at its drain deadline.
 */
export function trackLiveRequests(server: object): LiveRequests {
  const served = server as Served;
  let live = served[kLiveRequests];
  if (live === undefined) {
    live = new Map();
    served[kLiveRequests] = live;
  }
  return live;
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
