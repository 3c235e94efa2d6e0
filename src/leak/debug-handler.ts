import type { IncomingMessage, ServerResponse } from 'node:http';
import { runInternal } from './labels.js';
import { profile } from './profile.js';
import { startTrace } from './trace-recorder.js';

/** Options for debugHandler. */
export interface DebugHandlerOptions {
  /** Path prefix. Default: '/debug/leash'. */
  prefix?: string;
  /** Longest trace a request may ask for, in seconds. Default: 30. */
  maxTraceSeconds?: number;
}

/**
 * debugHandler returns a node:http-style handler (also an Express/Connect middleware) serving
 * leash's diagnostics, like Go's net/http/pprof:
 *
 * - `GET /debug/leash/tasks?debug=1|2[&format=json]`: profile() of what is alive now.
 * - `GET /debug/leash/trace?seconds=N`: records a Chrome trace for N seconds (default 1) and sends
 *   it as JSON to open in Perfetto.
 *
 * It answers only those paths; for anything else it calls `next()` when given and returns false,
 * so it can sit in front of an app (`if (!handler(req, res)) app(req, res)`). Nothing is served
 * unless you mount it. The output shows source paths and stacks and a trace slows the process
 * while it runs: mount it on an internal port or behind authentication, never on the public
 * internet.
 *
 * @example
 * const debug = debugHandler();
 * http.createServer((req, res) => debug(req, res) || app(req, res)).listen(6060, '127.0.0.1');
 */
export function debugHandler(
  opts: DebugHandlerOptions = {},
): (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => boolean {
  const prefix = (opts.prefix ?? '/debug/leash').replace(/\/$/, '');
  const maxSeconds = opts.maxTraceSeconds ?? 30;
  if (!prefix.startsWith('/')) throw invalid("debugHandler: prefix must start with '/'");
  if (!(maxSeconds > 0)) throw invalid('debugHandler: maxTraceSeconds must be > 0');
  return (req, res, next) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' || (url.pathname !== `${prefix}/tasks` && url.pathname !== `${prefix}/trace`)) {
      next?.();
      return false;
    }
    if (url.pathname === `${prefix}/tasks`) {
      const debug = url.searchParams.get('debug') === '2' ? 2 : 1;
      const format = url.searchParams.get('format') === 'json' ? 'json' : 'text';
      const body = profile({ debug, format });
      res.writeHead(200, {
        'content-type': format === 'json' ? 'application/json' : 'text/plain; charset=utf-8',
      });
      res.end(body);
      return true;
    }
    const seconds = Number(url.searchParams.get('seconds') ?? '1');
    if (!(seconds > 0) || seconds > maxSeconds) {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`seconds must be a number in (0, ${maxSeconds}]\n`);
      return true;
    }
    runInternal(() => {
      const recorder = startTrace();
      const timer = setTimeout(() => {
        recorder.stop();
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-disposition': 'attachment; filename="leash-trace.json"',
        });
        res.end(JSON.stringify(recorder.toJSON()));
      }, seconds * 1000);
      // A client that leaves early must not keep the recorder running.
      res.once('close', () => {
        clearTimeout(timer);
        recorder.stop();
      });
    });
    return true;
  };
}

function invalid(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'LEASH_ERR_INVALID_ARG' });
}
