import type { IncomingMessage, ServerResponse } from 'node:http';
import { assertNumber, assertOptions, describe, invalidArg } from '../context/internal.js';
import { dashboardState } from './dashboard-data.js';
import { DASHBOARD_CSP, DASHBOARD_HTML } from './dashboard-page.js';
import { type Sampler, startSampler } from './dashboard-sampler.js';
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
  /**
   * Serve the dashboard page at `<prefix>/` with its JSON at `<prefix>/dashboard/state` and
   * `<prefix>/dashboard/samples`, and sample metrics in the background until `close()`. Default: false.
   */
  dashboard?: boolean;
  /** With `dashboard`: how often the charts are sampled, in ms. Minimum: 100. Maximum: 60,000. Default: 1000. */
  dashboardIntervalMs?: number;
  /** With `dashboard`: samples kept (a ring buffer). Minimum: 2. Maximum: 100,000. Default: 300 (5 minutes at 1 s). */
  dashboardSamples?: number;
}

/**
 * DebugHandler is what debugHandler returns: a node:http handler (and Express/Connect middleware)
 * that returns whether it answered, with `close()` to stop the dashboard's sampler (a no-op without
 * the dashboard; idempotent; the handler still serves its endpoints afterwards, the charts stop).
 */
export interface DebugHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): boolean;
  close(): void;
}

const OPTIONS = [
  'prefix',
  'maxTraceSeconds',
  'maxConcurrentTraces',
  'maxTraceEvents',
  'dashboard',
  'dashboardIntervalMs',
  'dashboardSamples',
];

// Tasks the dashboard's state lists at most (the count says how many there are).
const DASHBOARD_MAX_TASKS = 2000;

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
 * - With `dashboard: true` only: `GET /debug/leash/` serves a self-contained page (no build step,
 *   no CDN, strict Content-Security-Policy) showing the live tasks as a tree, everything alive
 *   grouped by creation line, a flame graph of where tasks are blocked, a trace timeline and charts
 *   of task counts and event-loop delay and utilisation per interval; it polls
 *   `GET /debug/leash/dashboard/state` and `/dashboard/samples` (JSON). The samples come from an
 *   unref'd timer started by debugHandler and stopped by `close()`.
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
export function debugHandler(opts?: DebugHandlerOptions): DebugHandler {
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
  const dashboard = o.dashboard ?? false;
  if (typeof dashboard !== 'boolean') {
    throw invalidArg(`${where}: dashboard must be a boolean, got ${describe(dashboard)}`);
  }
  const intervalMs = o.dashboardIntervalMs ?? 1000;
  assertNumber(intervalMs, where, 'dashboardIntervalMs', { min: 100, max: 60_000, unit: 'ms' });
  const capacity = o.dashboardSamples ?? 300;
  assertNumber(capacity, where, 'dashboardSamples', { min: 2, max: 100_000, integer: true });
  const tasksPath = `${prefix}/tasks`;
  const tracePath = `${prefix}/trace`;
  const pagePath = `${prefix}/`;
  const statePath = `${prefix}/dashboard/state`;
  const samplesPath = `${prefix}/dashboard/samples`;
  let sampler: Sampler | undefined = dashboard ? startSampler(intervalMs, capacity) : undefined;

  const handler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): boolean => {
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
    const page =
      dashboard && (path === pagePath || path === statePath || path === samplesPath || path === prefix);
    if ((method !== 'GET' && method !== 'HEAD') || (path !== tasksPath && path !== tracePath && !page)) {
      next?.();
      return false;
    }
    if (!isResponse(res)) throw invalidArg(`${call}: res must be a ServerResponse, got ${describe(res)}`);
    if (page) {
      serveDashboard(res, path === prefix ? 'redirect' : path === pagePath ? 'page' : path, sampler, {
        prefix,
        statePath,
      });
      return true;
    }
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
  return Object.assign(handler, {
    close(): void {
      sampler?.stop();
      sampler = undefined;
    },
  });
}

// Headers on every dashboard answer: nothing cached, nothing sniffed, never framed.
const SAFE_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

function serveDashboard(
  res: ServerResponse,
  what: string,
  sampler: Sampler | undefined,
  paths: { prefix: string; statePath: string },
): void {
  if (what === 'redirect') {
    // Relative, so it stays right when a router strips a mount path from req.url.
    const last = paths.prefix.slice(paths.prefix.lastIndexOf('/') + 1);
    reply(res, 308, 'the dashboard is at ./\n', { ...SAFE_HEADERS, location: `${last}/` });
    return;
  }
  if (what === 'page') {
    reply(res, 200, DASHBOARD_HTML, {
      ...SAFE_HEADERS,
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': DASHBOARD_CSP,
    });
    return;
  }
  const body =
    what === paths.statePath
      ? runInternal(() => dashboardState(DASHBOARD_MAX_TASKS))
      : {
          intervalMs: sampler?.intervalMs ?? 0,
          running: sampler !== undefined,
          samples: sampler?.samples() ?? [],
        };
  // `<` escaped: the JSON stays inert even if something renders it as HTML.
  reply(res, 200, JSON.stringify(body).replace(/</g, '\\u003c'), {
    ...SAFE_HEADERS,
    'content-type': 'application/json; charset=utf-8',
  });
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
