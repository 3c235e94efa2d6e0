// The open-model load loop: requests are due on a fixed timeline (start + i / rate) whatever the
// target answers, and each one's latency is measured from that intended time, so a target that
// stalls is charged for every request it delayed (coordinated omission corrected, as wrk2 does).
import { afterFunc, type Context } from '../context/index.js';
import {
  assertContext,
  assertNumber,
  assertOptions,
  describe,
  invalidArg,
  readOption,
} from '../context/internal.js';
import { Connection, type Endpoint, type FailureKind } from './connection.js';
import { Histogram } from './histogram.js';

/** Options for runLoad. */
export interface LoadOptions {
  /** The target, an http: or https: URL. Required. */
  url: string | URL;
  /** Requests per second, sent on a fixed schedule. Minimum: above 0. Default: 100. */
  rate?: number;
  /** Measured duration in ms. Minimum: 1. Default: 10,000. */
  durationMs?: number;
  /** Warm-up in ms before the measured window, at the same rate; not counted. Default: 0. */
  warmupMs?: number;
  /** Most connections open (and so requests in flight) at once; beyond, due requests queue and their wait counts. Minimum: 1. Default: 100. */
  connections?: number;
  /** A request that has not completed this many ms after its intended send time fails as a timeout. Minimum: 1. Default: 10,000. */
  timeoutMs?: number;
  /** HTTP method. Default: 'GET'. */
  method?: string;
  /** Extra request headers. */
  headers?: Readonly<Record<string, string>>;
  /** Request body, sent with every request. */
  body?: string;
}

const OPTIONS = [
  'url',
  'rate',
  'durationMs',
  'warmupMs',
  'connections',
  'timeoutMs',
  'method',
  'headers',
  'body',
];

/** LoadResult is what runLoad measured; latencies are in ms from each request's intended send time. */
export interface LoadResult {
  readonly url: string;
  readonly rate: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly connections: number;
  /** Requests due in the measured window. */
  readonly requests: number;
  /** Requests that failed: a socket error, a timeout or a status >= 400. */
  readonly errors: number;
  /** errors / requests (0 when no request was due). */
  readonly errorRate: number;
  /** Failures without a status, by kind. */
  readonly failures: Readonly<Record<FailureKind, number>>;
  /** Answers by status code. */
  readonly statuses: Readonly<Record<string, number>>;
  /**
   * Requests answered (any status) per second, from the first measured request's intended send time
   * to the last measured answer: below `rate` when the target fell behind the schedule.
   */
  readonly rps: number;
  /** CPU time this process used from the start to the end of the run (user + system), in ms. */
  readonly cpuMs: number;
  /** Latency of every measured request, answered or failed (a failure at the moment it failed). */
  readonly latency: Histogram;
  /**
   * How late each measured request was written to its socket after its intended time: the
   * generator's own timer lateness plus any wait for a free connection. Already inside `latency`;
   * a large p99 with `maxQueued` 0 means the load generator itself (or its machine) was short of CPU.
   */
  readonly sendLag: Histogram;
  /** Most requests waiting for a free connection at once (above 0: --connections capped the rate). */
  readonly maxQueued: number;
  /** Connections opened over the run, warm-up included. */
  readonly connectionsOpened: number;
}

/**
 * runLoad sends requests to `opts.url` at a constant arrival rate for `warmupMs` then `durationMs`,
 * over at most `connections` keep-alive connections, and resolves with the measured window's
 * latency histogram, errors and statuses once every request has completed or timed out. When no
 * connection is free a due request waits in a queue, and its latency still counts from its due
 * time. It rejects with `ctx.err` if `ctx` ends first, and with LEASH_ERR_INVALID_ARG for bad
 * options. Every socket and timer is closed when it settles either way.
 *
 * @example
 * const r = await runLoad(background(), { url: 'http://127.0.0.1:3000/', rate: 500, durationMs: 5000 });
 * console.log(r.latency.percentile(99), r.errorRate);
 */
export function runLoad(ctx: Context, opts: LoadOptions): Promise<LoadResult> {
  const where = 'runLoad(ctx, opts)';
  assertContext(ctx, where);
  const o = assertOptions(opts, where, OPTIONS);
  if (opts === undefined) throw invalidArg(`${where}: opts must be an object with a url, got undefined`);
  const rawUrl = readOption(o, 'url', where);
  let url: URL;
  try {
    url = new URL(String(rawUrl));
  } catch {
    throw invalidArg(`${where}: url must be an http: or https: URL, got ${describe(rawUrl)}`);
  }
  if (typeof rawUrl !== 'string' && !(rawUrl instanceof URL))
    throw invalidArg(`${where}: url must be a string or URL, got ${describe(rawUrl)}`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalidArg(`${where}: url must be an http: or https: URL, got ${JSON.stringify(url.href)}`);
  const rate = readOption(o, 'rate', where) ?? 100;
  assertNumber(rate, where, 'rate', { min: Number.MIN_VALUE, max: 10_000_000, unit: 'requests per second' });
  const durationMs = readOption(o, 'durationMs', where) ?? 10_000;
  assertNumber(durationMs, where, 'durationMs', { min: 1, unit: 'milliseconds' });
  const warmupMs = readOption(o, 'warmupMs', where) ?? 0;
  assertNumber(warmupMs, where, 'warmupMs', { min: 0, unit: 'milliseconds' });
  const connections = readOption(o, 'connections', where) ?? 100;
  assertNumber(connections, where, 'connections', { min: 1, max: 100_000, integer: true });
  const timeoutMs = readOption(o, 'timeoutMs', where) ?? 10_000;
  assertNumber(timeoutMs, where, 'timeoutMs', { min: 1, unit: 'milliseconds' });
  const method = readOption(o, 'method', where) ?? 'GET';
  if (typeof method !== 'string' || !/^[A-Za-z]+$/.test(method))
    throw invalidArg(`${where}: method must be an HTTP method name such as 'GET', got ${describe(method)}`);
  const headers = readOption(o, 'headers', where) ?? {};
  if (typeof headers !== 'object' || headers === null)
    throw invalidArg(`${where}: headers must be an object of strings, got ${describe(headers)}`);
  let head = `${method.toUpperCase()} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n`;
  let hasAgent = false;
  for (const [k, v] of Object.entries(headers)) {
    if (typeof v !== 'string' || /[\r\n]/.test(k + v))
      throw invalidArg(`${where}: header ${JSON.stringify(k)} must be a one-line string, got ${describe(v)}`);
    if (k.toLowerCase() === 'user-agent') hasAgent = true;
    head += `${k}: ${v}\r\n`;
  }
  if (!hasAgent) head += 'User-Agent: leash-load\r\n';
  const body = readOption(o, 'body', where);
  if (body !== undefined && typeof body !== 'string')
    throw invalidArg(`${where}: body must be a string, got ${describe(body)}`);
  const bodyBytes = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
  if (body !== undefined || method.toUpperCase() === 'POST' || method.toUpperCase() === 'PUT')
    head += `Content-Length: ${bodyBytes.length}\r\n`;
  const request = Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), bodyBytes]);
  const endpoint: Endpoint = {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
    tls: url.protocol === 'https:',
  };
  if (ctx.err !== undefined) return Promise.reject(ctx.err);
  return new Promise<LoadResult>((resolve, reject) => {
    const interval = 1000 / rate;
    const warmupCount = Math.floor((warmupMs * rate) / 1000);
    const total = warmupCount + Math.max(1, Math.floor((durationMs * rate) / 1000));
    const headOnly = method.toUpperCase() === 'HEAD';
    const latency = new Histogram();
    const sendLag = new Histogram();
    const failures: Record<FailureKind, number> = { connect: 0, reset: 0, timeout: 0, protocol: 0 };
    const statuses: Record<string, number> = {};
    let errors = 0;
    let answered = 0;
    let lastAnswer = 0;
    const cpu0 = process.cpuUsage();
    const conns = new Set<Connection>();
    const idle: Connection[] = [];
    // Due requests waiting for a connection: their intended times, oldest first.
    let queue: number[] = [];
    let queueHead = 0;
    let maxQueued = 0;
    let opened = 0;
    let scheduled = 0;
    let done = 0;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const start = performance.now() + 1;
    // The first measured request's intended time: warm-up requests are due before it.
    const measuredFrom = start + warmupCount * interval;

    const finishOne = (intended: number, status: number, kind: FailureKind | undefined) => {
      done++;
      if (intended < measuredFrom) return;
      latency.record(performance.now() - intended);
      if (kind !== undefined) {
        failures[kind]++;
        errors++;
      } else {
        answered++;
        lastAnswer = performance.now();
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status >= 400) errors++;
      }
    };
    const onResponse = (c: Connection, status: number, intended: number) => {
      finishOne(intended, status, undefined);
      release(c);
    };
    const onFailure = (c: Connection, kind: FailureKind, intended: number) => {
      finishOne(intended, 0, kind);
      conns.delete(c);
      pump();
      check();
    };
    const send = (c: Connection, intended: number) => {
      if (intended >= measuredFrom) sendLag.record(performance.now() - intended);
      c.send(request, intended);
    };
    const acquire = (): Connection | undefined => {
      while (idle.length > 0) {
        const c = idle.pop()!;
        if (!c.dead) return c;
        conns.delete(c);
      }
      if (conns.size >= connections) {
        for (const c of conns) if (c.dead) conns.delete(c);
        if (conns.size >= connections) return undefined;
      }
      const c = new Connection(endpoint, headOnly, onResponse, onFailure);
      conns.add(c);
      opened++;
      return c;
    };
    const release = (c: Connection) => {
      if (c.dead) conns.delete(c);
      else idle.push(c);
      pump();
      check();
    };
    // Gives queued requests the free connections; one that waited past the timeout fails unsent.
    const pump = () => {
      while (queueHead < queue.length) {
        const intended = queue[queueHead]!;
        if (performance.now() - intended > timeoutMs) {
          queueHead++;
          finishOne(intended, 0, 'timeout');
          continue;
        }
        const c = acquire();
        if (c === undefined) break;
        queueHead++;
        send(c, intended);
      }
      if (queueHead > 1024 && queueHead * 2 > queue.length) {
        queue = queue.slice(queueHead);
        queueHead = 0;
      }
    };
    const tick = () => {
      timer = undefined;
      if (settled) return;
      const now = performance.now();
      while (scheduled < total) {
        const intended = start + scheduled * interval;
        if (intended > now) break;
        scheduled++;
        if (queueHead < queue.length) queue.push(intended);
        else {
          const c = acquire();
          if (c === undefined) queue.push(intended);
          else send(c, intended);
        }
      }
      const queued = queue.length - queueHead;
      if (queued > maxQueued) maxQueued = queued;
      pump();
      check();
      if (scheduled < total) {
        const wait = start + scheduled * interval - performance.now();
        // Millisecond timers, never a setImmediate spin: spinning would burn a core (the target's,
        // on a shared machine) to save at most 1 ms of send lag, which is measured and reported.
        timer = setTimeout(tick, Math.max(1, Math.ceil(wait)));
      }
    };
    // Requests in flight past their timeout fail; the connection is closed (its answer would come
    // too late and cannot be told apart from the next one's).
    const sweep = setInterval(
      () => {
        const now = performance.now();
        for (const c of [...conns]) {
          if (c.intended >= 0 && now - c.intended > timeoutMs) c.fail('timeout');
        }
        pump();
      },
      Math.min(100, Math.max(5, timeoutMs / 10)),
    );
    const cleanup = () => {
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      clearInterval(sweep);
      stop();
      for (const c of conns) c.destroy();
      conns.clear();
      idle.length = 0;
    };
    const check = () => {
      if (settled || done < total) return;
      cleanup();
      const measuredMs = Math.max(interval, lastAnswer - measuredFrom);
      const cpu = process.cpuUsage(cpu0);
      resolve({
        url: url.href,
        rate,
        durationMs,
        warmupMs,
        connections,
        requests: total - warmupCount,
        errors,
        errorRate: total - warmupCount === 0 ? 0 : errors / (total - warmupCount),
        failures: Object.freeze(failures),
        statuses: Object.freeze(statuses),
        rps: answered === 0 ? 0 : (answered * 1000) / measuredMs,
        cpuMs: (cpu.user + cpu.system) / 1000,
        latency,
        sendLag,
        maxQueued,
        connectionsOpened: opened,
      });
    };
    const stop = afterFunc(ctx, () => {
      if (settled) return;
      cleanup();
      reject(ctx.err);
    });
    tick();
  });
}
