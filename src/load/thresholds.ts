// The SLA gate's language: `p99<250`, `errors<0.01`, `leaked==0`. A metric name nobody computes is
// an error, and so is a bound no run can fail or pass (`errors<2`, `p99<-5`): never a threshold
// that silently passes.
import { closest, describe, invalidArg } from '../context/internal.js';

/** The comparison of a threshold. */
export type ThresholdOp = '<' | '<=' | '>' | '>=' | '==' | '!=';

/** Threshold is one parsed `--threshold` expression. */
export interface Threshold {
  /** The expression as written. */
  readonly expr: string;
  /** The metric name as normalised (`p99.9` for `p999`). */
  readonly metric: string;
  readonly op: ThresholdOp;
  /** The bound, in the metric's unit (ms for latencies, a fraction for `errors`). */
  readonly value: number;
}

/**
 * METRICS lists the metric names a threshold may use besides any percentile `pN` (0 < N <= 100,
 * such as p50, p99, p99.9; `p999` means p99.9): latencies in ms (`min`, `mean`, `max`), `errors`
 * (fraction of requests that failed: a socket error, a timeout or a status >= 400), `error_count`,
 * `requests` (completed in the measured window), `rps` (completed per second), and the leak check:
 * `leaked` (`leaked_tasks` + `leaked_handles`), `leaked_tasks`, `leaked_handles`.
 */
export const METRICS: readonly string[] = Object.freeze([
  'p50',
  'p75',
  'p90',
  'p95',
  'p99',
  'p99.9',
  'min',
  'mean',
  'max',
  'errors',
  'error_count',
  'requests',
  'rps',
  'leaked',
  'leaked_tasks',
  'leaked_handles',
]);

/** LEAK_METRICS are the metrics answered by the target's debug endpoint after the run. */
export const LEAK_METRICS: readonly string[] = Object.freeze(['leaked', 'leaked_tasks', 'leaked_handles']);

const LATENCY = new Set(['min', 'mean', 'max']);

/** isLatencyMetric reports whether `metric` is measured in milliseconds. */
function isLatencyMetric(metric: string): boolean {
  return LATENCY.has(metric) || /^p/.test(metric);
}

/** percentileOf returns N of a metric named `pN`, or undefined for any other name. */
export function percentileOf(metric: string): number | undefined {
  if (metric === 'p999') return 99.9;
  const m = /^p(\d{1,3}(?:\.\d+)?)$/.exec(metric);
  if (!m) return undefined;
  const p = Number(m[1]);
  return p > 0 && p <= 100 ? p : undefined;
}

/**
 * parseThreshold parses `metric op value[unit]` (op: < <= > >= == !=; spaces allowed; unit `ms`
 * or `s` for latencies, `%` for errors). It throws LEASH_ERR_INVALID_ARG naming the known metrics,
 * with a did-you-mean, for an unknown metric, and for a malformed expression; and, saying what to
 * write instead, for a threshold whose outcome is fixed before the run: a bound outside the
 * metric's range (a negative latency, rate or count; errors above 1, that is 100%: `errors<2`
 * always passes, `errors<2%` is meant), one at its edge that no value can fail or pass (`p99<0`,
 * `p99>=0`, `errors>1`, `errors<=1`), a count compared with == or != to a fraction, a bound that
 * is not finite.
 */
export function parseThreshold(expr: string): Threshold {
  const where = 'parseThreshold(expr)';
  if (typeof expr !== 'string') throw invalidArg(`${where}: expr must be a string, got ${describe(expr)}`);
  const m = /^\s*([A-Za-z_][\w.]*)\s*(<=|>=|==|!=|<|>|=)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*(ms|s|%)?\s*$/.exec(
    expr,
  );
  if (!m) {
    throw invalidArg(
      `threshold ${JSON.stringify(expr)} is not "metric op number" (such as p99<250, errors<0.01, leaked==0)`,
    );
  }
  const name = m[1]!.toLowerCase();
  const p = percentileOf(name);
  const metric = p !== undefined ? `p${p}` : name;
  if (p === undefined && !METRICS.includes(metric)) {
    const guess = closest(name, [...METRICS, 'p999']);
    throw invalidArg(
      `threshold ${JSON.stringify(expr)}: unknown metric ${JSON.stringify(m[1])}${guess ? `; did you mean ${guess}?` : ''} (metrics: ${METRICS.join(', ')}, or any pN such as p99.9)`,
    );
  }
  const op = (m[2] === '=' ? '==' : m[2]) as ThresholdOp;
  let value = Number(m[3]);
  const unit = m[4];
  if (unit === 's' || unit === 'ms') {
    if (!isLatencyMetric(metric))
      throw invalidArg(`threshold ${JSON.stringify(expr)}: ${metric} is not a latency; drop the ${unit}`);
    if (unit === 's') value *= 1000;
  } else if (unit === '%') {
    if (metric !== 'errors')
      throw invalidArg(`threshold ${JSON.stringify(expr)}: only errors takes a percentage`);
    value /= 100;
  }
  const e = expr.trim();
  if (!Number.isFinite(value))
    throw invalidArg(`threshold ${JSON.stringify(expr)}: ${m[3]} is not a finite number`);
  const fixed = fixedOutcome(metric, op, value);
  if (fixed !== undefined) {
    const { range, max } = rangeOf(metric);
    let hint = '';
    if (metric === 'errors' && value > max) {
      hint = unit === '%' ? '; give a bound from 0% to 100%' : `; for ${m[3]}% write ${metric}${op}${m[3]}%`;
    }
    throw invalidArg(
      `threshold ${JSON.stringify(expr)}: ${metric} is ${range}, so ${e} ${fixed ? 'always passes' : 'never passes'}${hint}`,
    );
  }
  return Object.freeze({ expr: e, metric, op, value });
}

/** rangeOf gives the values a metric can take: from 0 to `max`, whole numbers when `integer`. */
function rangeOf(metric: string): { range: string; max: number; integer: boolean } {
  if (metric === 'errors')
    return { range: 'a fraction of the requests, from 0 to 1 (0% to 100%)', max: 1, integer: false };
  if (metric === 'rps')
    return { range: 'a rate per second, never below 0', max: Number.POSITIVE_INFINITY, integer: false };
  if (isLatencyMetric(metric))
    return { range: 'a latency in ms, never below 0', max: Number.POSITIVE_INFINITY, integer: false };
  return { range: 'a count, a whole number >= 0', max: Number.POSITIVE_INFINITY, integer: true };
}

/**
 * fixedOutcome returns whether `metric op value` passes whatever the run measures (true: always,
 * false: never), or undefined when some measured value passes it and some fails it.
 */
function fixedOutcome(metric: string, op: ThresholdOp, value: number): boolean | undefined {
  const { max, integer } = rangeOf(metric);
  // Outside [0, max], every measured value lies on the same side of the bound: any one decides.
  if (value < 0) return compare(0, op, value);
  if (value > max) return compare(max, op, value);
  if (value === 0 && (op === '<' || op === '>=')) return op === '>=';
  if (value === max && (op === '>' || op === '<=')) return op === '<=';
  if (integer && !Number.isInteger(value) && (op === '==' || op === '!=')) return op === '!=';
  return undefined;
}

/** compare applies a threshold's comparison to a measured value. */
export function compare(actual: number, op: ThresholdOp, bound: number): boolean {
  switch (op) {
    case '<':
      return actual < bound;
    case '<=':
      return actual <= bound;
    case '>':
      return actual > bound;
    case '>=':
      return actual >= bound;
    case '==':
      return actual === bound;
    default:
      return actual !== bound;
  }
}
