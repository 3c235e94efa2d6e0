import type { IncomingMessage, ServerResponse } from 'node:http';
import { assertNumber, assertOptions, describe, invalidArg } from '../context/internal.js';
import { runInternal } from './labels.js';
import { profile } from './profile.js';
import { startTrace } from './trace-recorder.js';

/** Options for debugHandler. */
export interface DebugHandlerOptions {
  /** Path prefix, matched against the raw `req.url`. Default: '/debug/leash'. */
  prefix?: string;
  /** Longest trace a request may ask for, in seconds. Minimum: above 0. Maximum: 600. Default: 30. */
  maxTraceSeconds?: number;
  /** Traces recorded at the same time in the process (through any handler); a request beyond gets 503 with Retry-After. Minimum: 1. Default: 1. */
  maxConcurrentTraces?: number;
  /** Events one trace keeps (a ring buffer: the oldest go first). Minimum: 16. Default: 100,000 (about 13 MB of JSON). */
  maxTraceEvents?: number;
}

const OPTIONS = ['prefix', 'maxTraceSeconds', 'maxConcurrentTraces', 'maxTraceEvents'];

// Traces recording now through any debugHandler (their hooks are process-wide, so the bound is
// too), with when each ends (performance.now() ms) for Retry-After.
const running = new Set<{ endsAt: number }>();

/**
 * debugHandler returns a node:http-style handler (also an Express/Connect middleware) serving
 * leash's diagnostics, like Go's net/http/pprof:
 *
 * - `GET /debug/leash/tasks?debug=1|2[&format=json]`: profile() of what is alive now.
 * - `GET /debug/leash/trace?seconds=N`: records a Chrome trace for N seconds (default 1, at most
 *   `maxTraceSeconds`) and sends it as JSON to open in Perfetto. At most `maxConcurrentTraces`
 *   run at once (others get 503 with Retry-After), each keeps at most `maxTraceEvents` events.
 *
 * It answers only when the raw `req.url` starts with its prefix, exactly as a guard in front of it
 * reads it (`req.url.startsWith('/debug')`, Express's `app.use('/debug', auth)`): an absolute-form
 * `http://host/debug/...` or a `//host/debug/...` request line is never answered. For anything
 * else (another path or method) it calls `next()` when given and returns false, so it can sit in
 * front of an app
 * (`if (!handler(req, res)) app(req, res)`). It never throws on a malformed request line. Nothing is
 * served unless you mount it. The output shows source paths and stacks and a trace slows the
 * process while it runs: mount it on an internal port or behind authentication, never on the public
 * internet.
 *
 * @example
 * const debug = debugHandler();
 * http.createServer((req, res) => debug(req, res) || app(req, res)).listen(6060, '127.0.0.1');
 */
export function debugHandler(
  opts?: DebugHandlerOptions,
): (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => boolean {
  const where = 'debugHandler(opts)';
  const o = assertOptions(opts, where, OPTIONS);
  const rawPrefix = o.prefix ?? '/debug/leash';
  if (typeof rawPrefix !== 'string' || !rawPrefix.startsWith('/') || /[?#\s]/.test(rawPrefix)) {
    throw invalidArg(
      `${where}: prefix must be a path starting with '/' (no '?', '#' or spaces), got ${describe(rawPrefix)}`,
    );
  }
  const prefix = rawPrefix.replace(/\/+$/, '');
  const maxSeconds = o.maxTraceSeconds ?? 30;
  assertNumber(maxSeconds, where, 'maxTraceSeconds', { min: Number.MIN_VALUE, max: 600, unit: 'seconds' });
  const maxTraces = o.maxConcurrentTraces ?? 1;
  assertNumber(maxTraces, where, 'maxConcurrentTraces', { min: 1, max: 64, integer: true });
  const maxEvents = o.maxTraceEvents ?? 100_000;
  assertNumber(maxEvents, where, 'maxTraceEvents', { min: 16, max: 10_000_000, integer: true });
  const tasksPath = `${prefix}/tasks`;
  const tracePath = `${prefix}/trace`;

  return (req, res, next) => {
    const call = 'debugHandler(opts)(req, res, next)';
    if (typeof req !== 'object' || req === null)
      throw invalidArg(`${call}: req must be an IncomingMessage, got ${describe(req)}`);
    if (next !== undefined && typeof next !== 'function') {
      throw invalidArg(`${call}: next must be a function when given, got ${describe(next)}`);
    }
    // The raw request target, as a guard reads it: never parsed as a URL, so `//host/...` and
    // `http://host/...` cannot reach a path the guard did not see, and nothing here can throw.
    let url: string;
    let method: unknown;
    try {
      url = typeof req.url === 'string' ? req.url : '';
      method = req.method;
    } catch (cause) {
      throw Object.assign(invalidArg(`${call}: req cannot be read (${describe(req)})`), { cause });
    }
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if ((method !== 'GET' && method !== 'HEAD') || (path !== tasksPath && path !== tracePath)) {
      next?.();
      return false;
    }
    if (!isResponse(res)) throw invalidArg(`${call}: res must be a ServerResponse, got ${describe(res)}`);
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    if (path === tasksPath) {
      const format = query.get('format') === 'json' ? 'json' : 'text';
      const body = profile({ debug: query.get('debug') === '2' ? 2 : 1, format });
      reply(res, 200, body, {
        'content-type': format === 'json' ? 'application/json' : 'text/plain; charset=utf-8',
      });
      return true;
    }
    const asked = query.get('seconds') ?? '1';
    const seconds = /^\d+(?:\.\d+)?$/.test(asked) ? Number(asked) : Number.NaN;
    if (!(seconds > 0) || seconds > maxSeconds) {
      reply(res, 400, `seconds must be a number in (0, ${maxSeconds}]\n`);
      return true;
    }
    if (running.size >= maxTraces) {
      const endsAt = Math.min(...[...running].map((r) => r.endsAt));
      const retry = Math.max(1, Math.ceil((endsAt - performance.now()) / 1000));
      reply(
        res,
        503,
        `a trace is already recording (at most ${maxTraces} at a time); retry in ${retry} s\n`,
        {
          'retry-after': String(retry),
        },
      );
      return true;
    }
    const slot = { endsAt: performance.now() + seconds * 1000 };
    running.add(slot);
    runInternal(() => {
      const recorder = startTrace({ maxEvents });
      const finish = () => {
        clearTimeout(timer);
        recorder.stop();
        running.delete(slot);
      };
      const timer = setTimeout(() => {
        finish();
        if (res.destroyed) return;
        reply(res, 200, JSON.stringify(recorder.toJSON()), {
          'content-type': 'application/json',
          'content-disposition': 'attachment; filename="leash-trace.json"',
        });
      }, seconds * 1000);
      // A client that leaves early must not keep the recorder running or its slot taken.
      res.once('close', finish);
    });
    return true;
  };
}

function reply(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(body);
}

function isResponse(res: unknown): res is ServerResponse {
  try {
    const r = res as ServerResponse;
    return typeof r?.writeHead === 'function' && typeof r.end === 'function' && typeof r.once === 'function';
  } catch {
    return false;
  }
}
