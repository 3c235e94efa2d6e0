// Options both exporters share, checked the way every leash layer checks its options.
import { assertNumber, assertOptions, describe, invalidArg, readOption } from '../context/internal.js';
import type { CollectorOptions } from './collector.js';

/** EventLoopOptions configure the per-interval event-loop families. */
export interface EventLoopOptions {
  /** intervalMs is how often delay and utilisation are read and reset. Minimum: 10. Default: 1000. */
  readonly intervalMs?: number;
  /** resolutionMs is the delay sampler's timer (monitorEventLoopDelay's resolution). Minimum: 1. Default: 10. */
  readonly resolutionMs?: number;
}

/** CommonOptions are the options of both collectMetrics and collectOtelMetrics. */
export interface CommonOptions {
  /** prefix goes before every metric name. Default: `'leash_'`. */
  readonly prefix?: string;
  /** eventLoop configures the event-loop families, or turns them off with `false`. Default: `{ intervalMs: 1000 }`. */
  readonly eventLoop?: EventLoopOptions | false;
  /** maxNames caps the distinct names per kind (policies, caches, queues); the rest are labelled `other`. Minimum: 1. Default: 50. */
  readonly maxNames?: number;
  /** buckets are the upper bounds, in seconds, of every duration histogram. Default: 1 ms to 10 s. */
  readonly buckets?: readonly number[];
  /**
   * httpDuration adds `http_request_duration_seconds{outcome}`, the lifetime of each request
   * context. Off by default: it costs a WeakMap entry and two clock reads per request, and most
   * services already time their requests. Default: false.
   */
  readonly httpDuration?: boolean;
}

/** DEFAULT_BUCKETS are the duration histograms' upper bounds in seconds. */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

const COMMON = ['prefix', 'eventLoop', 'maxNames', 'buckets', 'httpDuration'] as const;

/** @internal parseCommon validates the shared options; `extra` are the exporter's own keys. */
export function parseCommon(
  options: object | undefined,
  where: string,
  extra: readonly string[],
): { prefix: string; collector: CollectorOptions; options: Record<string, unknown> } {
  if (options === undefined) throw invalidArg(`${where}: options are required, got undefined`);
  const o = assertOptions(options as Record<string, unknown>, where, [...extra, ...COMMON]);
  const prefix = readOption(o, 'prefix', where) ?? 'leash_';
  if (typeof prefix !== 'string' || (prefix !== '' && !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix))) {
    throw invalidArg(
      `${where}: prefix must be a metric-name prefix such as 'myapp_', got ${describe(prefix)}`,
    );
  }
  const maxNames = readOption(o, 'maxNames', where) ?? 50;
  assertNumber(maxNames, where, 'maxNames', { min: 1, integer: true });
  const buckets = readOption(o, 'buckets', where) ?? DEFAULT_BUCKETS;
  if (
    !Array.isArray(buckets) ||
    buckets.length === 0 ||
    buckets.some(
      (b, i) => typeof b !== 'number' || !Number.isFinite(b) || b <= 0 || (i > 0 && b <= buckets[i - 1]),
    )
  ) {
    throw invalidArg(
      `${where}: buckets must be a non-empty ascending array of positive finite seconds, got ${describe(buckets)}`,
    );
  }
  const httpDuration = readOption(o, 'httpDuration', where) ?? false;
  if (typeof httpDuration !== 'boolean')
    throw invalidArg(`${where}: httpDuration must be true or false, got ${describe(httpDuration)}`);
  const loop = readOption(o, 'eventLoop', where);
  let eventLoopIntervalMs = 1000;
  let eventLoopResolutionMs = 10;
  if (loop === false) eventLoopIntervalMs = 0;
  else if (loop !== undefined) {
    const l = assertOptions(loop as EventLoopOptions, `${where}: eventLoop`, ['intervalMs', 'resolutionMs']);
    eventLoopIntervalMs = readOption(l, 'intervalMs', where) ?? 1000;
    eventLoopResolutionMs = readOption(l, 'resolutionMs', where) ?? 10;
    assertNumber(eventLoopIntervalMs, where, 'eventLoop.intervalMs', { min: 10, unit: 'milliseconds' });
    assertNumber(eventLoopResolutionMs, where, 'eventLoop.resolutionMs', {
      min: 1,
      integer: true,
      unit: 'milliseconds',
    });
  }
  return {
    prefix,
    collector: {
      maxNames,
      buckets: Object.freeze([...buckets]),
      eventLoopIntervalMs,
      eventLoopResolutionMs,
      httpDuration,
    },
    options: o,
  };
}
