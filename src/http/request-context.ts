import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CancelCauseFunc, Context } from '../context/index.js';
import {
  afterFunc,
  cause,
  isDeadlineExceeded,
  withCancelCause,
  withTimeout,
  withValue,
} from '../context/index.js';
import {
  assertContext,
  assertNumber,
  assertOneOf,
  assertOptions,
  describe,
  invalidArg,
  requestEndOutcome,
  requestTally,
} from '../context/internal.js';
import { ClientGoneError, responseFinished } from './errors.js';
import { hasEndSubscribers, publishEnd, publishStart } from './request-events.js';
import { acceptRequestId, requestIdKey } from './request-id.js';
import { parseRequestTimeout } from './request-timeout.js';
import { parseTraceparent, traceparentKey } from './traceparent.js';

/** RequestContextOptions configures the per-request context of every leashjs/http adapter. */
export interface RequestContextOptions {
  /**
   * timeoutMs is the server's own deadline for each request. A client's `x-request-timeout` header
   * may only shorten it (unless maxTimeoutMs allows more). Default: none (the request ends only with
   * its response, its client or the root context; a client's header then sets the deadline).
   */
  timeoutMs?: number;
  /**
   * maxTimeoutMs is the longest deadline the server accepts, from the header or from timeoutMs.
   * Set it to let a client's `x-request-timeout` ask for more than timeoutMs, up to this cap.
   * Default: none (the header can only shorten timeoutMs).
   */
  maxTimeoutMs?: number;
  /** timeoutStatus is the status sent when the deadline passes before the handler answered. Default: 504. */
  timeoutStatus?: number;
  /**
   * asyncLocalStorage makes the request context reachable through currentContext(). Default: false.
   * On Node 20 AsyncLocalStorage runs on async_hooks: the first use turns on a promise hook for the
   * whole process, which costs every await a little (docs/http.md has the measured numbers). Turn it
   * on only where code that cannot take `ctx` (a logger) needs currentContext().
   */
  asyncLocalStorage?: boolean;
}

/** The option names of RequestContextOptions, for the did-you-mean check. */
export const requestContextOptionNames: readonly string[] = [
  'timeoutMs',
  'maxTimeoutMs',
  'timeoutStatus',
  'asyncLocalStorage',
];

/**
 * requestTimeout is the deadline (ms from now) a request gets, or undefined for none: the header may
 * shorten the server's own timeoutMs; it may ask for more only up to maxTimeoutMs, which caps every
 * deadline. With neither option set, the header alone decides (there is nothing to lengthen).
 */
export function requestTimeout(
  header: number | undefined,
  timeoutMs: number | undefined,
  maxTimeoutMs: number | undefined,
): number | undefined {
  let t: number | undefined;
  if (header === undefined) t = timeoutMs;
  else if (maxTimeoutMs !== undefined) t = header;
  else t = timeoutMs === undefined || header < timeoutMs ? header : timeoutMs;
  if (maxTimeoutMs !== undefined && (t === undefined || t > maxTimeoutMs)) t = maxTimeoutMs;
  return t;
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
  opts?: RequestContextOptions | null,
): Context {
  const where = 'requestContext(root, req, res, opts)';
  assertContext(root, where);
  if (req === null || typeof req !== 'object' || typeof req.headers !== 'object' || req.headers === null) {
    throw invalidArg(`${where}: req must be a node:http IncomingMessage, got ${describe(req)}`);
  }
  if (
    res === null ||
    typeof res !== 'object' ||
    typeof res.setHeader !== 'function' ||
    typeof res.on !== 'function'
  ) {
    throw invalidArg(`${where}: res must be a node:http ServerResponse, got ${describe(res)}`);
  }
  return createRequestContext(root, req, res, opts == null ? noOptions : checkOptions(opts, where));
}

const noOptions: RequestContextOptions = Object.freeze({});

/** createRequestContext is requestContext without the argument checks: the adapters check once, up front. */
export function createRequestContext(
  root: Context,
  req: IncomingMessage,
  res: ServerResponse,
  opts: RequestContextOptions,
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

  const timeout = requestTimeout(
    parseRequestTimeout(headers['x-request-timeout']),
    opts.timeoutMs,
    opts.maxTimeoutMs,
  );
  let ctx = owned;
  let stopTimeoutReply: (() => boolean) | undefined;
  // A deadline costs a second context and a callback; requests without one pay for neither.
  if (timeout !== undefined || root.deadline !== undefined) {
    // withTimeout: measured on the monotonic clock, so a step of the wall clock changes nothing.
    if (timeout !== undefined) [ctx] = withTimeout(owned, timeout);
    const status = opts.timeoutStatus ?? 504;
    const deadlineCtx = ctx;
    stopTimeoutReply = afterFunc(deadlineCtx, () => {
      if (isDeadlineExceeded(deadlineCtx.err) && !res.headersSent && !res.writableEnded) {
        replyTimeout(res, status);
      }
    });
  }

  // 'close' fires once per response; `on` skips the wrapper `once` allocates.
  // Counted for leashjs/metrics without an event (see context/tallies.ts); announced to subscribers.
  requestTally.started++;
  publishStart(req, res, ctx);
  res.on('close', () => {
    stopTimeoutReply?.();
    live?.delete(res);
    cancel(res.writableFinished ? responseFinished : new ClientGoneError());
    const why = cause(ctx);
    requestTally[requestEndOutcome(res, why)]++;
    if (hasEndSubscribers()) publishEnd(req, res, ctx, why);
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

/**
 * checkOptions validates RequestContextOptions once, when an adapter is created; `where` is the public
 * call (`expressContext(root, opts)`). null means no options; unknown keys get a did-you-mean.
 */
export function checkOptions(
  opts: RequestContextOptions | null | undefined,
  where: string,
  extra: readonly string[] = [],
): RequestContextOptions {
  if (opts === null) return {};
  const o = assertOptions(
    opts,
    where,
    extra.length ? [...requestContextOptionNames, ...extra] : requestContextOptionNames,
  );
  const ms = { min: 0, unit: 'milliseconds' };
  if (o.timeoutMs !== undefined) assertNumber(o.timeoutMs, where, 'opts.timeoutMs', ms);
  if (o.maxTimeoutMs !== undefined) assertNumber(o.maxTimeoutMs, where, 'opts.maxTimeoutMs', ms);
  if (o.timeoutStatus !== undefined) {
    assertNumber(o.timeoutStatus, where, 'opts.timeoutStatus', { min: 100, max: 599, integer: true });
  }
  if (o.asyncLocalStorage !== undefined) {
    assertOneOf(o.asyncLocalStorage, where, 'opts.asyncLocalStorage', [true, false]);
  }
  // A copy: the adapter reads it per request, and a caller's later change must not alter it.
  return {
    timeoutMs: o.timeoutMs,
    maxTimeoutMs: o.maxTimeoutMs,
    timeoutStatus: o.timeoutStatus,
    asyncLocalStorage: o.asyncLocalStorage,
  };
}
