// What `leash load` prints and writes with --json: the run's numbers, the leak check and the gate.
import { LOAD_EXIT } from './exit-codes.js';
import type { Histogram } from './histogram.js';
import type { TargetCounts } from './leak-probe.js';
import type { LoadResult } from './run-load.js';

/** The leak check: the target's counts before and after the run. */
export interface LeakCheck {
  readonly before: TargetCounts;
  readonly after: TargetCounts;
  readonly leakedTasks: number;
  readonly leakedHandles: number;
}

/** One threshold of the gate, evaluated; `actual` is null when the metric was not measured. */
export interface ThresholdResult {
  readonly expr: string;
  readonly metric: string;
  readonly actual: number | null;
  readonly pass: boolean;
}

/** LoadReport gathers one run, its leak check and its thresholds. */
export interface LoadReport {
  readonly result: LoadResult;
  readonly latency: Histogram;
  readonly leak: LeakCheck | undefined;
  readonly thresholds: ThresholdResult[];
  /** json returns the report as plain data for --json. */
  json(): Record<string, unknown>;
}

const PERCENTILES = [50, 75, 90, 95, 99, 99.9];
const round = (n: number) => Math.round(n * 1000) / 1000;

/** toReport builds a report; the thresholds are filled in by the caller. */
export function toReport(
  result: LoadResult,
  before: TargetCounts | undefined,
  after: TargetCounts | undefined,
): LoadReport {
  const leak =
    before !== undefined && after !== undefined
      ? {
          before,
          after,
          leakedTasks: Math.max(0, after.tasks - before.tasks),
          leakedHandles: Math.max(0, after.handles - before.handles),
        }
      : undefined;
  const thresholds: ThresholdResult[] = [];
  const h = result.latency;
  return {
    result,
    latency: h,
    leak,
    thresholds,
    json() {
      const latencyMs: Record<string, number> = { min: round(h.min), mean: round(h.mean) };
      for (const p of PERCENTILES) latencyMs[`p${p}`] = round(h.percentile(p));
      latencyMs.max = round(h.max);
      return {
        url: result.url,
        rate: result.rate,
        durationMs: result.durationMs,
        warmupMs: result.warmupMs,
        connections: result.connections,
        requests: result.requests,
        errors: result.errors,
        errorRate: result.errorRate,
        failures: result.failures,
        statuses: result.statuses,
        rps: round(result.rps),
        cpuMs: round(result.cpuMs),
        latencyMs,
        sendLagMs: {
          p50: round(result.sendLag.percentile(50)),
          p99: round(result.sendLag.percentile(99)),
          max: round(result.sendLag.max),
        },
        maxQueued: result.maxQueued,
        connectionsOpened: result.connectionsOpened,
        leak: leak ?? null,
        thresholds,
        pass: thresholds.every((t) => t.pass),
      };
    },
  };
}

/** formatReport renders a report as the table `leash load` prints. */
export function formatReport(r: LoadReport, exitCode: number): string {
  const res = r.result;
  const h = r.latency;
  const ms = (n: number) => `${n.toFixed(n < 10 ? 2 : 1)} ms`;
  const lines = [
    `leash load: ${res.url}: ${res.rate} req/s for ${res.durationMs / 1000} s${
      res.warmupMs > 0 ? ` after ${res.warmupMs / 1000} s warm-up` : ''
    }, at most ${res.connections} connections`,
    '',
    'latency (from the intended send time)',
  ];
  const rows: [string, string][] = [
    ['min', ms(h.min)],
    ['mean', ms(h.mean)],
    ...PERCENTILES.map((p): [string, string] => [`p${p}`, ms(h.percentile(p))]),
    ['max', ms(h.max)],
  ];
  for (const [k, v] of rows) lines.push(`  ${k.padEnd(8)}${v.padStart(12)}`);
  const failures = Object.entries(res.failures)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`);
  const statuses = Object.entries(res.statuses).map(([k, n]) => `${k}: ${n}`);
  lines.push(
    '',
    `requests  ${res.requests} (${res.rps.toFixed(1)} answered/s)`,
    `errors    ${res.errors} (${(res.errorRate * 100).toFixed(2)}%)${failures.length ? `: ${failures.join(', ')}` : ''}`,
    `statuses  ${statuses.length ? statuses.join(', ') : 'none'}`,
  );
  lines.push(
    `send lag  p50 ${ms(res.sendLag.percentile(50))}, p99 ${ms(res.sendLag.percentile(99))} (how late requests left after their intended time; part of the latency)`,
  );
  if (res.maxQueued > 0)
    lines.push(
      `queued    up to ${res.maxQueued} due requests waited for a free connection (all ${res.connections} busy); their wait is in the latencies`,
    );
  if (r.leak) {
    const { before, after, leakedTasks, leakedHandles } = r.leak;
    lines.push(
      `leaks     tasks ${before.tasks} -> ${after.tasks}, active handles ${before.handles} -> ${after.handles}${
        leakedTasks + leakedHandles > 0 ? `: ${leakedTasks} task(s), ${leakedHandles} handle(s) leaked` : ''
      }`,
    );
    if (leakedTasks > 0) {
      for (const [where, n] of Object.entries(after.tasksBySite)) {
        const grew = n - (before.tasksBySite[where] ?? 0);
        if (grew > 0) lines.push(`          +${grew} task ${where}`);
      }
    }
    if (leakedHandles > 0) {
      const grew = Object.entries(after.handlesByType)
        .map(([t, n]) => [t, n - (before.handlesByType[t] ?? 0)] as const)
        .filter(([, d]) => d > 0)
        .map(([t, d]) => `${t} +${d}`);
      lines.push(`          handles grown: ${grew.join(', ')}`);
    }
  } else lines.push('leaks     not checked (no --debug-url)');
  if (r.thresholds.length > 0) {
    lines.push('', 'thresholds');
    for (const t of r.thresholds) {
      const actual = t.actual === null ? 'not measured' : String(round(t.actual));
      lines.push(`  ${t.pass ? 'pass' : 'FAIL'}  ${t.expr.padEnd(20)} actual ${actual}`);
    }
  }
  lines.push(
    '',
    exitCode === LOAD_EXIT.pass
      ? 'PASS'
      : exitCode === LOAD_EXIT.leaked
        ? 'FAIL: the target leaked'
        : 'FAIL: an SLA threshold was breached',
    '',
  );
  return lines.join('\n');
}
