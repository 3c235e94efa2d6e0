// The prom-client exporter. It builds no prom-client objects (prom-client stays an optional peer
// that leash never imports): each family is registered as a metric object of the shape prom-client's
// Registry reads, whose get() turns the collector's live values into the registry's format. A scrape
// therefore costs O(series) and allocates only its answer.
import { describe, invalidArg } from '../context/internal.js';
import { Collector } from './collector.js';
import type { Family } from './family.js';
import type { MetricsHandle } from './handle.js';
import { type CommonOptions, parseCommon } from './options.js';

/**
 * PromRegistry is the part of prom-client's `Registry` (>= 15) that collectMetrics uses: pass
 * `register` (the default registry) or any `new Registry()`.
 */
export interface PromRegistry {
  registerMetric(metric: never): void;
  removeSingleMetric(name: string): void;
  getSingleMetric(name: string): unknown;
}

/** CollectMetricsOptions configure collectMetrics(). */
export interface CollectMetricsOptions extends CommonOptions {
  /** register is the prom-client Registry to add leash's metrics to. Required. */
  readonly register: PromRegistry;
}

interface PromValue {
  value: number;
  labels: Readonly<Record<string, string | number>>;
  metricName?: string;
}

class PromMetric {
  name: string;
  readonly help: string;
  readonly type: string;
  readonly aggregator: string;
  readonly #family: Family;
  readonly #collector: Collector;

  constructor(family: Family, prefix: string, collector: Collector) {
    this.#family = family;
    this.#collector = collector;
    this.name = prefix + family.name;
    this.help = family.help;
    this.type = family.type;
    this.aggregator = family.name.startsWith('event_loop_') ? 'average' : 'sum';
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: PromValue[] } {
    const f = this.#family;
    if (f.pulled) this.#collector.pull();
    const values: PromValue[] = [];
    if (f.type !== 'histogram') {
      for (const s of f.series) values.push({ value: s.value, labels: s.labels });
    } else {
      const bucket = `${this.name}_bucket`;
      for (const s of f.series) {
        const counts = s.counts as Float64Array;
        let cumulative = 0;
        for (let i = 0; i < f.buckets.length; i++) {
          cumulative += counts[i] as number;
          values.push({
            metricName: bucket,
            value: cumulative,
            labels: { ...s.labels, le: f.buckets[i] as number },
          });
        }
        values.push({ metricName: bucket, value: s.count, labels: { ...s.labels, le: '+Inf' } });
        values.push({ metricName: `${this.name}_sum`, value: s.sum, labels: s.labels });
        values.push({ metricName: `${this.name}_count`, value: s.count, labels: s.labels });
      }
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {}
}

/**
 * collectMetrics subscribes to every `leash:*` diagnostics channel and adds leash's metrics
 * (tasks, request contexts by outcome, breakers, limiters, caches, queues, event-loop delay and
 * utilisation per interval) to `options.register`, a prom-client Registry, as
 * prom-client's collectDefaultMetrics adds the process metrics. Values are kept up to date as
 * events arrive, so a scrape costs O(series); labels never carry ids, keys or URLs, and the names
 * of policies, caches and queues are capped at `maxNames` per kind (the rest count as `other`), so
 * the number of series is bounded whatever the program does. Events before the call are not
 * counted. Call `stop()` to unsubscribe and unregister; calling collectMetrics twice on one
 * registry without stop() throws (the names are taken). Bad options throw TypeError
 * (LEASH_ERR_INVALID_ARG). docs/metrics.md lists every series.
 *
 * @example
 * import { register } from 'prom-client';
 * const metrics = collectMetrics({ register, eventLoop: { intervalMs: 1000 } });
 * // ... GET /metrics: res.end(await register.metrics());
 * metrics.stop();
 */
export function collectMetrics(options: CollectMetricsOptions): MetricsHandle {
  const where = 'collectMetrics(options)';
  const { prefix, collector: co, options: o } = parseCommon(options, where, ['register']);
  const register = o.register as PromRegistry;
  if (
    typeof register !== 'object' ||
    register === null ||
    typeof register.registerMetric !== 'function' ||
    typeof register.removeSingleMetric !== 'function' ||
    typeof register.getSingleMetric !== 'function'
  ) {
    throw invalidArg(`${where}: register must be a prom-client Registry (>= 15), got ${describe(register)}`);
  }
  const collector = new Collector(co);
  const metrics = collector.families.map((f) => new PromMetric(f, prefix, collector));
  for (const m of metrics) {
    if (register.getSingleMetric(m.name) !== undefined) {
      throw new Error(
        `collectMetrics(options): a metric named ${m.name} is already registered (stop() the previous collectMetrics, or use another prefix)`,
      );
    }
  }
  // Kept apart: prom-client's OpenMetrics output renames counters in place (drops `_total`).
  const names = metrics.map((m) => m.name);
  for (const m of metrics) register.registerMetric(m as never);
  collector.start();
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      collector.stop();
      for (let i = 0; i < names.length; i++) {
        const name = names[i] as string;
        if (register.getSingleMetric(name) === metrics[i]) register.removeSingleMetric(name);
      }
    },
  };
}
