import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Context } from '../context/index.js';
import { afterFunc } from '../context/index.js';
import { assertContext, assertNumber, assertOptions, describe, invalidArg } from '../context/internal.js';
import { ServerShutdownError } from './errors.js';
import { trackLiveRequests } from './request-context.js';

/** ServeOptions configures serve(). */
export interface ServeOptions {
  /**
   * drainMs is how long in-flight requests may keep running after ctx ends before their contexts
   * are cancelled and their connections closed. Default: 10_000. Minimum: 0 (cancel at once).
   */
  drainMs?: number;
}

/** ShutdownReport says how the shutdown went. */
export interface ShutdownReport {
  /** inFlight is how many requests were running when ctx ended. */
  inFlight: number;
  /** canceled is how many requests were still running at the drain deadline and were cancelled. */
  canceled: number;
  /** refused is how many requests arrived after the drain deadline and were answered 503 without running. */
  refused: number;
}

/**
 * answerGraceMs: after the drain deadline, how long cancelled handlers get to answer (their 503 or
 * 504) before serve() answers 503 itself. flushMs: how long those answers get to reach the socket
 * before every connection is closed. serve() therefore resolves at most drainMs + answerGraceMs +
 * flushMs (250 ms) after ctx ends, plus event-loop delay.
 */
const answerGraceMs = 150;
const flushMs = 100;

/**
 * serve runs server's graceful shutdown, Go's http.Server.Shutdown style, and loses no request. When
 * ctx ends (use signalContext(background(), ['SIGTERM', 'SIGINT'])):
 * - it stops accepting connections at once and, two event-loop turns later (so a request already
 *   sent on an idle keep-alive socket is read, not cut), closes idle keep-alive connections (those
 *   that answered a request and run none; a connection whose first request has not arrived yet is
 *   left until the drain deadline);
 * - every response from then on carries `Connection: close`, so keep-alive clients reconnect
 *   (and are refused) instead of sending into a closing server;
 * - in-flight requests, and requests still arriving on open connections, run for up to drainMs.
 *
 * At the drain deadline it admits nothing more (a request arriving later is answered 503 without
 * running), cancels the contexts of the requests still running (cause ServerShutdownError), gives
 * them 150 ms to answer, answers 503 itself to any that did not (a response already streaming is
 * cut), and closes every connection 100 ms later at the latest. The promise resolves when the server
 * has closed and no connection is left: at most drainMs + 250 ms after ctx ended (plus event-loop
 * delay). It never rejects.
 *
 * Call it before the server accepts requests: requests that started earlier are not tracked. The
 * request contexts must not derive from ctx itself, or the shutdown signal cancels them at once with
 * no drain: give the adapter a root such as background() and let serve() end them. Calling serve
 * twice on one server is a mistake (both would drain it).
 *
 * @example
 * const [stop] = signalContext(background(), ['SIGTERM', 'SIGINT']);
 * const server = http.createServer(withContext(background(), handler));
 * const done = serve(stop, server, { drainMs: 10_000 });
 * server.listen(8080);
 * await done; // after SIGTERM, once drained
 */
export function serve(ctx: Context, server: Server, opts?: ServeOptions | null): Promise<ShutdownReport> {
  const where = 'serve(ctx, server, opts)';
  assertContext(ctx, where);
  if (
    server === null ||
    typeof server !== 'object' ||
    typeof server.close !== 'function' ||
    typeof server.on !== 'function' ||
    typeof server.closeIdleConnections !== 'function'
  ) {
    throw invalidArg(`${where}: server must be a node:http or node:https Server, got ${describe(server)}`);
  }
  const o = opts === null ? {} : assertOptions(opts, where, ['drainMs']);
  const drainMs = o.drainMs ?? 10_000;
  assertNumber(drainMs, where, 'opts.drainMs', { min: 0, unit: 'milliseconds' });

  const active = new Set<ServerResponse>();
  const live = trackLiveRequests(server);
  // serving -> draining (ctx ended: finish what runs, admit what arrives on open connections with
  // Connection: close) -> closing (drain deadline passed: admit nothing, answer every request).
  let phase: 'serving' | 'draining' | 'closing' = 'serving';
  let onEmpty: (() => void) | undefined;
  // Each connection's state, for closing only the idle keep-alive ones: those that have answered
  // a request and have none running. A connection that has not yet delivered its first request is
  // not idle (its request may be on the wire): it gets until the drain deadline, as in Go.
  const conns = new Map<Socket, { busy: number; served: number }>();
  const onConnection = (socket: Socket) => {
    conns.set(socket, { busy: 0, served: 0 });
    socket.once('close', () => conns.delete(socket));
  };
  const closeIdle = () => {
    for (const [socket, st] of conns) if (st.busy === 0 && st.served > 0) socket.destroy();
  };
  // Two turns, so that one full I/O poll runs in between: a request a client already sent on an
  // idle keep-alive connection is read and answered (with Connection: close) rather than cut by
  // closing the socket under it (the client would see ECONNRESET).
  const closeIdleSoon = () => setImmediate(() => setImmediate(closeIdle));
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    active.add(res);
    const st = conns.get(req.socket);
    if (st !== undefined) st.busy++;
    res.once('close', () => {
      active.delete(res);
      if (st !== undefined) {
        st.busy--;
        st.served++;
      }
      if (phase === 'serving') return;
      // A response whose keep-alive headers went out before the drain leaves its connection idle.
      closeIdleSoon();
      if (active.size === 0 && onEmpty !== undefined) onEmpty();
    });
  };
  server.on('connection', onConnection);
  server.on('request', onRequest);

  return new Promise((resolve) => {
    afterFunc(ctx, () => {
      phase = 'draining';
      const report: ShutdownReport = { inFlight: active.size, canceled: 0, refused: 0 };
      // Every answer from now on says Connection: close (HTTP/1.1), so a keep-alive client opens a
      // new connection (refused) instead of sending its next request into a closing server.
      for (const res of active) {
        if (!res.headersSent) res.shouldKeepAlive = false;
      }
      // From now on serve() sees every request first: during the drain it marks it
      // Connection: close; after the drain deadline it answers 503 and runs no handler.
      const listeners = server.listeners('request') as ((
        req: IncomingMessage,
        res: ServerResponse,
      ) => void)[];
      server.removeAllListeners('request');
      const gate = (req: IncomingMessage, res: ServerResponse) => {
        res.shouldKeepAlive = false;
        if (phase === 'closing') {
          report.refused++;
          active.add(res);
          res.once('close', () => {
            active.delete(res);
            if (active.size === 0 && onEmpty !== undefined) onEmpty();
          });
          answerShutdown(res);
          return;
        }
        for (const l of listeners) l.call(server, req, res);
      };
      server.on('request', gate);

      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const closed = () => {
        if (done) return;
        done = true;
        if (timer !== undefined) clearTimeout(timer);
        onEmpty = undefined;
        server.off('request', gate);
        server.off('connection', onConnection);
        for (const l of listeners) if (l !== onRequest) server.on('request', l);
        resolve(report);
      };
      // Stop listening now: from here on a new connection is refused at once. close() calls back
      // once every connection is gone (or at once with ERR_SERVER_NOT_RUNNING when it never
      // listened). node:http's close() would also close every connection without a request
      // running, including new ones whose first request is on the wire; it looks that method up on
      // the server, so a no-op shadows it for this one call and closeIdleSoon() does it right.
      const shadow = Object.getOwnPropertyDescriptor(server, 'closeIdleConnections');
      server.closeIdleConnections = () => {};
      try {
        server.close(closed);
      } finally {
        if (shadow) Object.defineProperty(server, 'closeIdleConnections', shadow);
        else delete (server as { closeIdleConnections?: unknown }).closeIdleConnections;
      }
      closeIdleSoon();

      // Waits until no response is open or ms pass, then runs next.
      const untilEmpty = (ms: number, next: () => void) => {
        if (active.size === 0) return next();
        const t = setTimeout(() => {
          onEmpty = undefined;
          next();
        }, ms);
        onEmpty = () => {
          onEmpty = undefined;
          clearTimeout(t);
          next();
        };
      };
      timer = setTimeout(() => {
        timer = undefined;
        phase = 'closing';
        const cause = new ServerShutdownError(drainMs);
        for (const res of active) {
          const cancel = live.get(res);
          if (cancel === undefined) continue;
          cancel(cause);
          report.canceled++;
        }
        // The cancelled handlers answer (503, or 504 for a deadline); what has not answered by
        // then gets serve()'s 503; a response already streaming cannot be answered and is cut.
        untilEmpty(answerGraceMs, () => {
          for (const res of active) {
            if (!res.headersSent && !res.writableEnded) answerShutdown(res);
            else if (!res.writableEnded) res.destroy();
          }
          untilEmpty(flushMs, () => {
            if (!done) server.closeAllConnections();
          });
        });
      }, drainMs);
    });
  });
}

/** answerShutdown answers 503 with Connection: close, for a request the server will not run or finish. */
function answerShutdown(res: ServerResponse): void {
  try {
    const body = 'server shutting down\n';
    res.shouldKeepAlive = false;
    res.statusCode = 503;
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.setHeader('content-length', Buffer.byteLength(body));
    res.setHeader('retry-after', '1');
    res.end(body);
  } catch {
    res.destroy();
  }
}
