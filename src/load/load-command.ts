// `leash load`: argument parsing, the run, the leak check and the SLA gate of the CLI. The `leash`
// binary (src/leak/cli.ts) hands it everything after `load`.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import { background } from '../context/index.js';
import { closest } from '../context/internal.js';
import { LOAD_EXIT } from './exit-codes.js';
import { readCounts, type TargetCounts } from './leak-probe.js';
import { formatReport, type LoadReport, toReport } from './report.js';
import { runLoad } from './run-load.js';
import {
  compare,
  LEAK_METRICS,
  METRICS,
  parseThreshold,
  percentileOf,
  type Threshold,
} from './thresholds.js';

export { LOAD_EXIT };

export const loadUsage = `Usage: leash load [options] URL
       leash load [options] --demo[=leaky]

An open-model load generator: requests are sent at a constant rate whatever the target answers, and
every latency is measured from the request's intended send time (coordinated omission corrected).
Prints a table of latency percentiles, errors and statuses, then checks the SLA gate.

Options:
  --rate N            requests per second (default 100)
  --duration D        measured duration: 10s, 500ms, 1m or milliseconds (default 10s)
  --warmup D          warm-up at the same rate before measuring, not counted (default 0)
  --connections N     most connections, and requests in flight, at once (default 100)
  --timeout D         a request fails if not answered D after its intended send time (default 10s)
  --method M          HTTP method (default GET); --header 'Name: value' (repeatable); --body TEXT
  --threshold EXPR    an SLA: metric op number, such as 'p99<250' (ms), 'errors<0.01', 'leaked==0';
                      repeatable. Metrics: ${METRICS.join(', ')}, any pN
  --debug-url URL     the target's leashjs/leak debugHandler (such as http://127.0.0.1:6060/debug/leash):
                      live tasks and active handles are read before and after the run, and any
                      growth fails the gate (leaked==0 unless a threshold on leaked says otherwise)
  --settle D          how long to wait after the run for the counts to come back (default 5s)
  --json FILE         also write the report as JSON to FILE
  --demo[=leaky]      start the repository's demo target (demo/load-target.ts) and drive it, with its
                      debug endpoint; =leaky starts its leaking variant
  -h, --help          print this help on stdout

Exit codes:
  0    every threshold held and nothing leaked
  2    usage error (an unknown option or metric names the known ones)
  3    the target leaked (tasks or handles grew, or a leaked threshold failed)
  5    an SLA threshold failed
  6    the target or its debug endpoint could not be reached
  125  leash load itself failed
`;

interface LoadArgs {
  url: string | undefined;
  demo: 'leash' | 'leaky' | undefined;
  rate: number;
  durationMs: number;
  warmupMs: number;
  connections: number;
  timeoutMs: number;
  settleMs: number;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  thresholds: Threshold[];
  debugUrl: string | undefined;
  json: string | undefined;
}

const FLAGS = [
  'rate',
  'duration',
  'warmup',
  'connections',
  'timeout',
  'method',
  'header',
  'body',
  'threshold',
  'debug-url',
  'settle',
  'json',
  'demo',
  'help',
];

class UsageError extends Error {}

/** parseDuration reads 10s, 500ms, 1m, 1.5s or a bare number of milliseconds, at least minMs. */
function parseDuration(flag: string, v: string, minMs: number): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v);
  if (!m) throw new UsageError(`${flag} must be a duration such as 10s, 500ms or 1m, got ${v}`);
  const n = Number(m[1]);
  const ms = m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n;
  if (ms < minMs) throw new UsageError(`${flag} must be at least ${minMs}ms`);
  return ms;
}

function parseCount(flag: string, v: string, min: number): number {
  const n = /^\d+(?:\.\d+)?$/.test(v) ? Number(v) : Number.NaN;
  if (!(n >= min))
    throw new UsageError(
      `${flag} must be a number ${min > 0 && min < 1 ? 'above 0' : `>= ${min}`}, got ${v}`,
    );
  return n;
}

function parseArgs(argv: string[]): LoadArgs | 'help' {
  const a: LoadArgs = {
    url: undefined,
    demo: undefined,
    rate: 100,
    durationMs: 10_000,
    warmupMs: 0,
    connections: 100,
    timeoutMs: 10_000,
    settleMs: 5000,
    method: 'GET',
    headers: {},
    body: undefined,
    thresholds: [],
    debugUrl: undefined,
    json: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') return 'help';
    if (!arg.startsWith('-')) {
      if (a.url !== undefined) throw new UsageError(`one URL only, got ${a.url} and ${arg}`);
      a.url = arg;
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = (eq > 0 ? arg.slice(0, eq) : arg).replace(/^--?/, '');
    if (!FLAGS.includes(flag)) {
      const guess = closest(flag, FLAGS);
      throw new UsageError(
        `unknown option ${arg.slice(0, eq > 0 ? eq : undefined)}${guess ? `; did you mean --${guess}?` : ''}`,
      );
    }
    if (flag === 'demo') {
      const v = eq > 0 ? arg.slice(eq + 1) : 'leash';
      if (v !== 'leash' && v !== 'leaky') throw new UsageError(`--demo takes leaky or nothing, got ${v}`);
      a.demo = v;
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith('--')))
      throw new UsageError(`--${flag} needs a value`);
    switch (flag) {
      case 'rate':
        a.rate = parseCount('--rate', value, Number.MIN_VALUE);
        if (a.rate > 10_000_000) throw new UsageError(`--rate must be at most 10000000, got ${value}`);
        break;
      case 'duration':
        a.durationMs = parseDuration('--duration', value, 1);
        break;
      case 'warmup':
        a.warmupMs = parseDuration('--warmup', value, 0);
        break;
      case 'connections':
        a.connections = parseCount('--connections', value, 1);
        if (!Number.isInteger(a.connections))
          throw new UsageError(`--connections must be a whole number, got ${value}`);
        break;
      case 'timeout':
        a.timeoutMs = parseDuration('--timeout', value, 1);
        break;
      case 'settle':
        a.settleMs = parseDuration('--settle', value, 0);
        break;
      case 'method':
        if (!/^[A-Za-z]+$/.test(value)) throw new UsageError(`--method must be a method name, got ${value}`);
        a.method = value.toUpperCase();
        break;
      case 'header': {
        const colon = value.indexOf(':');
        if (colon <= 0) throw new UsageError(`--header must be 'Name: value', got ${value}`);
        a.headers[value.slice(0, colon).trim()] = value.slice(colon + 1).trim();
        break;
      }
      case 'body':
        a.body = value;
        break;
      case 'threshold':
        try {
          a.thresholds.push(parseThreshold(value));
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
        break;
      case 'debug-url':
        a.debugUrl = value;
        break;
      case 'json':
        a.json = value;
        break;
    }
  }
  if (a.demo !== undefined && a.url !== undefined) throw new UsageError('give a URL or --demo, not both');
  if (a.demo === undefined) {
    if (a.url === undefined)
      throw new UsageError('missing URL: leash load --rate 100 http://127.0.0.1:3000/');
    checkUrl('URL', a.url);
  }
  if (a.debugUrl !== undefined) checkUrl('--debug-url', a.debugUrl);
  const leakGate = a.thresholds.find((t) => LEAK_METRICS.includes(t.metric));
  if (leakGate && a.debugUrl === undefined && a.demo === undefined)
    throw new UsageError(
      `threshold ${leakGate.expr} needs --debug-url: the target's leashjs/leak debugHandler answers it`,
    );
  return a;
}

function checkUrl(what: string, v: string): void {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new UsageError(`${what} must be an http: or https: URL, got ${v}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new UsageError(`${what} must be an http: or https: URL, got ${v}`);
}

/** probe sends one request; it resolves with the status, or rejects when the target cannot be reached. */
function probe(url: string, timeoutMs: number): Promise<number> {
  const get = url.startsWith('https:') ? https.get : http.get;
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Demo {
  url: string;
  debugUrl: string;
  child: ChildProcess;
}

function startDemo(variant: 'leash' | 'leaky'): Promise<Demo> {
  const script = fileURLToPath(new URL('../../demo/load-target.ts', import.meta.url));
  if (!existsSync(script)) {
    return Promise.reject(
      new Error('--demo runs the demo of a leash repository checkout (demo/ is not in the npm package)'),
    );
  }
  const child = spawn(process.execPath, ['--import', 'tsx', script, variant], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    // Task creation stacks on, so that a leaked task is reported at its line.
    env: { ...process.env, LEASH_TASK_STACKS: '1' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('error', reject);
    child.once('exit', (code) =>
      reject(new Error(`the demo target exited (code ${code}) before it listened`)),
    );
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      child.removeAllListeners('exit');
      const { url, debugUrl } = JSON.parse(out.slice(0, nl)) as { url: string; debugUrl: string };
      resolve({ url, debugUrl, child });
    });
  });
}

/** settle reads the target's counts until they are back to `before` or `settleMs` passed; the last reading. */
async function settle(debugUrl: string, before: TargetCounts, settleMs: number): Promise<TargetCounts> {
  const until = performance.now() + settleMs;
  for (;;) {
    const now = await readCounts(debugUrl);
    if ((now.tasks <= before.tasks && now.handles <= before.handles) || performance.now() >= until)
      return now;
    await sleep(Math.min(250, Math.max(0, until - performance.now())));
  }
}

function metricValue(r: LoadReport, metric: string): number | undefined {
  const p = percentileOf(metric);
  if (p !== undefined) return r.latency.percentile(p);
  switch (metric) {
    case 'min':
      return r.latency.min;
    case 'mean':
      return r.latency.mean;
    case 'max':
      return r.latency.max;
    case 'errors':
      return r.result.errorRate;
    case 'error_count':
      return r.result.errors;
    case 'requests':
      return r.result.requests;
    case 'rps':
      return r.result.rps;
    case 'leaked':
      return r.leak ? r.leak.leakedTasks + r.leak.leakedHandles : undefined;
    case 'leaked_tasks':
      return r.leak?.leakedTasks;
    case 'leaked_handles':
      return r.leak?.leakedHandles;
    default:
      return undefined;
  }
}

/**
 * loadCommand runs `leash load` with the arguments after `load`, writing the report to stdout and
 * problems to stderr, and resolves with the exit code (LOAD_EXIT). It never throws.
 */
export async function loadCommand(argv: string[]): Promise<number> {
  const err = (line: string) => process.stderr.write(`leash load: ${line}\n`);
  let args: LoadArgs | 'help';
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(e.message);
    process.stderr.write(
      `${loadUsage.slice(0, loadUsage.indexOf('\n\n'))}\nRun leash load --help for the options and exit codes.\n`,
    );
    return LOAD_EXIT.usage;
  }
  if (args === 'help') {
    process.stdout.write(loadUsage);
    return LOAD_EXIT.pass;
  }
  let demo: Demo | undefined;
  try {
    if (args.demo !== undefined) {
      try {
        demo = await startDemo(args.demo);
      } catch (e) {
        err(String((e as Error).message));
        return LOAD_EXIT.failure;
      }
      args.url = demo.url;
      args.debugUrl ??= demo.debugUrl;
    }
    const url = args.url!;
    try {
      await probe(url, Math.min(args.timeoutMs, 5000));
    } catch (e) {
      err(`cannot reach ${url}: ${(e as Error).message}`);
      return LOAD_EXIT.unreachable;
    }
    let before: TargetCounts | undefined;
    if (args.debugUrl !== undefined) {
      try {
        before = await readCounts(args.debugUrl);
      } catch (e) {
        err(`cannot read the debug endpoint: ${(e as Error).message}`);
        return LOAD_EXIT.unreachable;
      }
    }
    let run: ReturnType<typeof runLoad>;
    try {
      run = runLoad(background(), {
        url,
        rate: args.rate,
        durationMs: args.durationMs,
        warmupMs: args.warmupMs,
        connections: args.connections,
        timeoutMs: args.timeoutMs,
        method: args.method,
        headers: args.headers,
        ...(args.body !== undefined ? { body: args.body } : {}),
      });
    } catch (e) {
      // runLoad checks its options synchronously and is the one home of their bounds: a value the
      // flags let through but it refuses is a usage error, not a failure of leash load.
      if ((e as { code?: unknown }).code !== 'LEASH_ERR_INVALID_ARG') throw e;
      err((e as Error).message);
      return LOAD_EXIT.usage;
    }
    const result = await run;
    let after: TargetCounts | undefined;
    if (args.debugUrl !== undefined && before !== undefined) {
      try {
        after = await settle(args.debugUrl, before, args.settleMs);
      } catch (e) {
        err(`cannot read the debug endpoint after the run: ${(e as Error).message}`);
        return LOAD_EXIT.unreachable;
      }
    }
    const thresholds = [...args.thresholds];
    if (after !== undefined && !thresholds.some((t) => LEAK_METRICS.includes(t.metric)))
      thresholds.push(parseThreshold('leaked==0'));
    const report = toReport(result, before, after);
    let leakFailed = false;
    let slaFailed = false;
    for (const t of thresholds) {
      const actual = metricValue(report, t.metric);
      const pass = actual !== undefined && compare(actual, t.op, t.value);
      report.thresholds.push({ expr: t.expr, metric: t.metric, actual: actual ?? null, pass });
      if (!pass) {
        if (LEAK_METRICS.includes(t.metric)) leakFailed = true;
        else slaFailed = true;
      }
    }
    const code = leakFailed ? LOAD_EXIT.leaked : slaFailed ? LOAD_EXIT.slaFailed : LOAD_EXIT.pass;
    process.stdout.write(formatReport(report, code));
    if (args.json !== undefined) {
      try {
        writeFileSync(args.json, `${JSON.stringify({ ...report.json(), exitCode: code }, null, 2)}\n`);
      } catch (e) {
        err(`cannot write --json ${args.json}: ${(e as Error).message}`);
        return LOAD_EXIT.failure;
      }
    }
    return code;
  } finally {
    if (demo !== undefined) {
      const child = demo.child;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin?.end();
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(2000)]);
    }
  }
}
