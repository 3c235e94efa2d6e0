// leashjs/metrics: leash's own metrics for prom-client and OpenTelemetry, fed only by the leash:*
// diagnostics channels (docs/metrics.md).
export type { MetricType } from './family.js';
export type { MetricsHandle } from './handle.js';
export { MAX_LABEL_LENGTH, OTHER } from './name-cap.js';
export { type CommonOptions, DEFAULT_BUCKETS, type EventLoopOptions } from './options.js';
export {
  type CollectOtelMetricsOptions,
  collectOtelMetrics,
  type OtelBatchResult,
  type OtelInstrumentOptions,
  type OtelMeter,
  type OtelObservable,
} from './otel.js';
export { type CollectMetricsOptions, collectMetrics, type PromRegistry } from './prometheus.js';
