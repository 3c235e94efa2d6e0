// Event-loop delay and utilisation per interval, not since start: a histogram that is never reset
// keeps an hour-old stall in its p99 forever, and a cumulative utilisation barely moves after a
// minute of uptime. Every interval the delay histogram is read and reset, and utilisation is the
// delta since the previous reading (performance.eventLoopUtilization(now, prev)): the same signal
// leashjs/resilience's adaptiveLimit({ eventLoop: true }) sheds on.
import { type IntervalHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { Family } from './family.js';

type ELU = ReturnType<typeof performance.eventLoopUtilization>;

/** @internal EventLoopSampler refreshes the event-loop families once per interval. */
export class EventLoopSampler {
  readonly #intervalMs: number;
  readonly #histogram: IntervalHistogram;
  readonly #delay: Family;
  readonly #utilization: Family;
  #prev: ELU | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(intervalMs: number, resolutionMs: number, delay: Family, utilization: Family) {
    this.#intervalMs = intervalMs;
    this.#histogram = monitorEventLoopDelay({ resolution: resolutionMs });
    this.#delay = delay;
    this.#utilization = utilization;
    for (const stat of ['mean', 'p50', 'p90', 'p99', 'max']) delay.at(stat);
    utilization.at();
  }

  start(): void {
    this.#histogram.enable();
    this.#prev = performance.eventLoopUtilization();
    // Unref'd: sampling never keeps the process alive.
    this.#timer = setInterval(() => this.sample(), this.#intervalMs);
    this.#timer.unref();
  }

  /** sample publishes the interval that just ended and starts the next one. */
  sample(): void {
    const now = performance.eventLoopUtilization();
    if (this.#prev !== undefined) {
      this.#utilization.at().value = performance.eventLoopUtilization(now, this.#prev).utilization;
    }
    this.#prev = now;
    const h = this.#histogram;
    const ns = (v: number): number => (Number.isFinite(v) ? v / 1e9 : 0);
    const has = h.count > 0;
    this.#delay.at('mean').value = has ? ns(h.mean) : 0;
    this.#delay.at('p50').value = has ? ns(h.percentile(50)) : 0;
    this.#delay.at('p90').value = has ? ns(h.percentile(90)) : 0;
    this.#delay.at('p99').value = has ? ns(h.percentile(99)) : 0;
    this.#delay.at('max').value = has ? ns(h.max) : 0;
    h.reset();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#histogram.disable();
  }
}
