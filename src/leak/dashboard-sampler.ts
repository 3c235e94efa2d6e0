import { type IntervalHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { taskCount, tasks } from '../task/index.js';
import { type ServiceCounts, ServiceWatch } from './dashboard-service.js';
import { runInternal } from './labels.js';

/** Sample is one interval of the dashboard's charts. Delays are for that interval alone, not since start. */
export interface Sample {
  /** End of the interval, epoch ms. */
  readonly t: number;
  /** Live tasks at the end of the interval. */
  readonly tasks: number;
  /** Live tasks by state; empty when more than the sampler counts by state (10,000). */
  readonly states: Readonly<Record<string, number>>;
  /** Event-loop delay over the interval (ms): median, 99th percentile, maximum. 0 when unmeasured. */
  readonly delayP50Ms: number;
  readonly delayP99Ms: number;
  readonly delayMaxMs: number;
  /** Event-loop utilisation over the interval, 0 to 1. */
  readonly elu: number;
  /** What the other layers published in the interval: request outcomes, defences, cache, queues, limits. */
  readonly service: ServiceCounts;
}

/** Sampler keeps the last `capacity` samples, one per interval, until stop(). */
export interface Sampler {
  readonly intervalMs: number;
  samples(): Sample[];
  stop(): void;
}

// Counting by state walks every task (tasks() copies each entry): past this, only the total.
const STATE_LIMIT = 10_000;

/**
 * startSampler samples task counts, event-loop delay and utilisation, and the service series
 * (dashboard-service.ts) every `intervalMs` into a ring of `capacity` samples. The timer is unref'd
 * (it never keeps the process alive) and created under leash's internal label (the tracker never
 * reports it); stop() clears it and the delay histogram and unsubscribes the service series.
 */
export function startSampler(intervalMs: number, capacity: number): Sampler {
  const ring: Sample[] = [];
  let head = 0;
  // The histogram records the time between its timer's runs, so a value includes the resolution
  // itself (an idle loop reads 10 ms at resolution 10): it is subtracted to give the delay alone.
  const resolution = 10;
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution });
  histogram.enable();
  let elu = performance.eventLoopUtilization();
  const service = new ServiceWatch();
  const sample = () => {
    const count = taskCount();
    const states: Record<string, number> = {};
    if (count <= STATE_LIMIT) for (const t of tasks()) states[t.state] = (states[t.state] ?? 0) + 1;
    const now = performance.eventLoopUtilization();
    const delta = performance.eventLoopUtilization(now, elu);
    elu = now;
    const ms = (ns: number) =>
      Number.isFinite(ns) && histogram.count > 0 ? Math.max(0, ns / 1e6 - resolution) : 0;
    const s: Sample = Object.freeze({
      t: Date.now(),
      tasks: count,
      states: Object.freeze(states),
      delayP50Ms: ms(histogram.percentile(50)),
      delayP99Ms: ms(histogram.percentile(99)),
      delayMaxMs: ms(histogram.max),
      elu: delta.utilization,
      service: service.take(),
    });
    histogram.reset();
    if (ring.length < capacity) ring.push(s);
    else {
      ring[head] = s;
      head = (head + 1) % capacity;
    }
  };
  // The sample is read in the check phase (an immediate), after every timer due in this turn of
  // the loop has run: after a blocked loop, the histogram's own timer records the block before the
  // sample reads and resets it. Read from the interval's callback directly, the sample could run
  // first, and the reset lost the block (seen once on Node 24: no sample showed a 300 ms block).
  const timer = runInternal(() =>
    setInterval(() => {
      setImmediate(() => {
        if (!stopped) sample();
      });
    }, intervalMs),
  );
  timer.unref();
  let stopped = false;
  return {
    intervalMs,
    samples: () => [...ring.slice(head), ...ring.slice(0, head)],
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      histogram.disable();
      service.stop();
    },
  };
}
