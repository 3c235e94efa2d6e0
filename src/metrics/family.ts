// One metric family (a name, a type, label names) and its series, kept up to date as events arrive,
// so that reading them (a scrape, an OpenTelemetry collection) costs O(series) and nothing else.

/** MetricType is the kind of a family, as Prometheus and OpenTelemetry both know it. */
export type MetricType = 'counter' | 'gauge' | 'histogram';

/** @internal Series is one labelled time series of a family. */
export interface Series {
  /** labels, frozen, shared with every reader: built once when the series is first seen. */
  readonly labels: Readonly<Record<string, string>>;
  /** value of a counter or gauge. */
  value: number;
  /** Histograms: observations per bucket (not cumulative), the last one for +Inf. */
  readonly counts: Float64Array | undefined;
  sum: number;
  count: number;
}

/** @internal Family is a metric family: its series are keyed by their label values. */
export class Family {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly labelNames: readonly string[];
  /** buckets are the upper bounds of a histogram, ascending, in the family's unit. */
  readonly buckets: readonly number[];
  /** unit is 's' for the families measured in seconds, '1' otherwise (OpenTelemetry). */
  readonly unit: string;
  /** series in creation order, for the readers. */
  readonly series: Series[] = [];
  /** pulled families take their values from the layers' tallies: Collector.pull() before reading them. */
  pulled = false;
  /** onObserve, when set, hears every histogram observation (the OpenTelemetry path records it). */
  onObserve: ((series: Series, value: number) => void) | undefined = undefined;

  constructor(
    name: string,
    type: MetricType,
    help: string,
    labelNames: readonly string[] = [],
    buckets: readonly number[] = [],
  ) {
    this.name = name;
    this.type = type;
    this.help = help;
    this.labelNames = labelNames;
    this.buckets = buckets;
    this.unit = name.endsWith('_seconds') ? 's' : '1';
  }

  // Label values -> series, one Map level per label, so finding a series allocates nothing (no
  // joined key string per event).
  readonly #index = new Map<string, unknown>();

  /** at returns the series for the label values given in labelNames' order, creating it at zero. */
  at(a = '', b = '', c = ''): Series {
    const depth = this.labelNames.length;
    let level = this.#index;
    let next = level.get(a);
    if (depth >= 2) {
      if (next === undefined) {
        next = new Map<string, unknown>();
        level.set(a, next);
      }
      level = next as Map<string, unknown>;
      next = level.get(b);
      if (depth >= 3) {
        if (next === undefined) {
          next = new Map<string, unknown>();
          level.set(b, next);
        }
        level = next as Map<string, unknown>;
        next = level.get(c);
      }
    }
    if (next !== undefined) return next as Series;
    const values = [a, b, c];
    const labels: Record<string, string> = {};
    for (let i = 0; i < depth; i++) labels[this.labelNames[i] as string] = values[i] as string;
    const s: Series = {
      labels: Object.freeze(labels),
      value: 0,
      counts: this.type === 'histogram' ? new Float64Array(this.buckets.length + 1) : undefined,
      sum: 0,
      count: 0,
    };
    level.set(depth >= 3 ? c : depth === 2 ? b : a, s);
    this.series.push(s);
    return s;
  }

  /** observe adds `value` to a histogram series. */
  observe(s: Series, value: number): void {
    const counts = s.counts as Float64Array;
    const buckets = this.buckets;
    let i = 0;
    while (i < buckets.length && value > (buckets[i] as number)) i++;
    counts[i] = (counts[i] as number) + 1;
    s.sum += value;
    s.count++;
    this.onObserve?.(s, value);
  }
}
