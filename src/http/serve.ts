import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Context } from '../context/index.js';
import { afterFunc } from '../context/index.js';
import { invalidArg, ServerShutdownError } from './errors.js';
import { assertContext, trackLiveRequests } from './request-context.js';

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
  /** canceled is how many of them were still running at the drain deadline and were cancelled. */
  canceled: number;
}

/**
 * serve runs server's graceful shutdown, Go's http.Server.Shutdown style: when ctx ends (use
 * signalContext(background(), ['SIGTERM', 'SIGINT'])), it stops accepting connections, closes idle
 * keep-alive connections, answers requests still arriving on open connections with
 * `connection: close`, and lets in-flight requests finish for up to drainMs. At the drain deadline
 * it cancels the contexts of the requests still running (cause ServerShutdownError) and closes every
 * connection. The promise resolves when the server has closed and no connection is left; it never
 * rejects.
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
export function serve(ctx: Context, server: Server, opts: ServeOptions = {}): Promise<ShutdownReport> {
  assertContext(ctx, 'serve(ctx, server): ctx');
  if (server === null || typeof server !== 'object' || typeof server.close !== 'function') {
    throw invalidArg('serve(ctx, server): server must be a node:http or node:https Server');
  }
  const drainMs = opts.drainMs ?? 10_000;
  if (typeof drainMs !== 'number' || !(drainMs >= 0)) {
    throw invalidArg(`serve: drainMs must be a number of milliseconds >= 0, got ${String(drainMs)}`);
  }

  const active = new Set<ServerResponse>();
  const live = trackLiveRequests(server);
  let draining = false;
  const onRequest = (_req: IncomingMessage, res: ServerResponse) => {
    active.add(res);
    if (draining && !res.headersSent) res.setHeader('connection', 'close');
    res.once('close', () => {
      active.delete(res);
      // A response that finished during the drain leaves its keep-alive socket idle: close it now.
      if (draining) setImmediate(() => server.closeIdleConnections());
    });
  };
  server.on('request', onRequest);

  return new Promise((resolve) => {
    afterFunc(ctx, () => {
      draining = true;
      const report: ShutdownReport = { inFlight: active.size, canceled: 0 };
      let timer: NodeJS.Timeout | undefined;
      const closed = () => {
        if (timer !== undefined) clearTimeout(timer);
        server.off('request', onRequest);
        resolve(report);
      };
      // close() stops listening and calls back once every connection is gone (or at once with
      // ERR_SERVER_NOT_RUNNING when it never listened: nothing to drain then either).
      server.close(closed);
      server.closeIdleConnections();
      if (active.size === 0) return;
      timer = setTimeout(() => {
        timer = undefined;
        const cause = new ServerShutdownError(drainMs);
        for (const res of active) {
          const cancel = live.get(res);
          if (cancel === undefined) continue;
          cancel(cause);
          report.canceled++;
        }
        // Give the handlers one turn to notice and answer, then cut what is left.
        setImmediate(() => server.closeAllConnections());
      }, drainMs);
    });
  });
}
