// The OpenTelemetry exporter. @opentelemetry/api stays an optional peer that leash never imports:
// the user passes a Meter and collectOtelMetrics calls it through the structural types below.
// Counters and gauges are observable instruments read by one batch callback (O(series) per
// collection); histograms are recorded as the events arrive, since OpenTelemetry has no
// observable histogram.
import { describe, invalidArg } from '../context/internal.js';
import { Collector } from './collector.js';
import type { Family, Series } from './family.js';
import type { MetricsHandle } from './handle.js';
import { type CommonOptions, parseCommon } from './options.js';

type Attributes = Readonly<Record<string, string>>;

/** OtelObservable is an observable instrument of @opentelemetry/api, as collectOtelMetrics uses it. */
export type OtelObservable = object;

/** OtelBatchResult is @opentelemetry/api's BatchObservableResult, as collectOtelMetrics uses it. */
export interface OtelBatchResult {
  observe(observable: OtelObservable, value: number, attributes?: Attributes): void;
}

/** OtelInstrumentOptions is the part of @opentelemetry/api's MetricOptions collectOtelMetrics passes. */
export interface OtelInstrumentOptions {
  description?: string;
  unit?: string;
  advice?: { explicitBucketBoundaries?: number[] };
}

/**
 * OtelMeter is the part of @opentelemetry/api's `Meter` (>= 1.9) that collectOtelMetrics uses:
 * pass `metrics.getMeter('my-service')` or a MeterProvider's meter.
 */
export interface OtelMeter {
  createHistogram(
    name: string,
    options?: OtelInstrumentOptions,
  ): { record(value: number, attributes?: Attributes): void };
  createObservableGauge(name: string, options?: OtelInstrumentOptions): OtelObservable;
  createObservableCounter(name: string, options?: OtelInstrumentOptions): OtelObservable;
  addBatchObservableCallback(
    callback: (result: OtelBatchResult) => void,
    observables: OtelObservable[],
  ): void;
  removeBatchObservableCallback(
    callback: (result: OtelBatchResult) => void,
    observables: OtelObservable[],
  ): void;
}

/** CollectOtelMetricsOptions configure collectOtelMetrics(). */
export interface CollectOtelMetricsOptions extends CommonOptions {
  /** meter is the OpenTelemetry Meter to create leash's instruments on. Required. */
  readonly meter: OtelMeter;
}

/** otelName is a family's name as an OpenTelemetry instrument: no `_total` and no `_seconds` (the unit says it). */
function otelName(prefix: string, f: Family): string {
  return prefix + f.name.replace(/_total$/, '').replace(/_seconds$/, '');
}

/**
 * collectOtelMetrics is collectMetrics for OpenTelemetry: it subscribes to every `leash:*`
 * diagnostics channel and creates leash's instruments on `options.meter` (observable counters and
 * gauges read by one batch callback, histograms recorded as events arrive; durations in seconds,
 * unit `s`). The series, labels (as attributes) and bounds are those of docs/metrics.md, named
 * without the `_total` and `_seconds` suffixes, which OpenTelemetry's Prometheus exporter adds
 * back. `stop()` unsubscribes and removes the callback; histograms stop recording (OpenTelemetry
 * cannot remove an instrument). Bad options throw TypeError (LEASH_ERR_INVALID_ARG).
 *
 * @example
 * import { metrics } from '@opentelemetry/api';
 * const handle = collectOtelMetrics({ meter: metrics.getMeter('orders') });
 */
export function collectOtelMetrics(options: CollectOtelMetricsOptions): MetricsHandle {
  const where = 'collectOtelMetrics(options)';
  const { prefix, collector: co, options: o } = parseCommon(options, where, ['meter']);
  const meter = o.meter as OtelMeter;
  if (
    typeof meter !== 'object' ||
    meter === null ||
    typeof meter.createHistogram !== 'function' ||
    typeof meter.createObservableGauge !== 'function' ||
    typeof meter.createObservableCounter !== 'function' ||
    typeof meter.addBatchObservableCallback !== 'function' ||
    typeof meter.removeBatchObservableCallback !== 'function'
  ) {
    throw invalidArg(`${where}: meter must be an @opentelemetry/api Meter (>= 1.9), got ${describe(meter)}`);
  }
  const collector = new Collector(co);
  const observed: [OtelObservable, Family][] = [];
  let stopped = false;
  for (const f of collector.families) {
    const opts: OtelInstrumentOptions = { description: f.help, unit: f.unit };
    const name = otelName(prefix, f);
    if (f.type === 'histogram') {
      const h = meter.createHistogram(name, {
        ...opts,
        advice: { explicitBucketBoundaries: [...f.buckets] },
      });
      f.onObserve = (s: Series, v: number) => {
        if (!stopped) h.record(v, s.labels);
      };
    } else {
      const inst =
        f.type === 'counter'
          ? meter.createObservableCounter(name, opts)
          : meter.createObservableGauge(name, opts);
      observed.push([inst, f]);
    }
  }
  const callback = (result: OtelBatchResult): void => {
    collector.pull();
    for (const [inst, f] of observed) for (const s of f.series) result.observe(inst, s.value, s.labels);
  };
  const instruments = observed.map(([inst]) => inst);
  meter.addBatchObservableCallback(callback, instruments);
  collector.start();
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      collector.stop();
      meter.removeBatchObservableCallback(callback, instruments);
    },
  };
}
