// leashjs/metrics through OpenTelemetry: a real MeterProvider (@opentelemetry/sdk-metrics) with an
// in-memory exporter reads leash's instruments after real work.
import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { test } from 'node:test';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { background, sleep } from 'leashjs';
import { createCache } from 'leashjs/cache';
import { verifyNone } from 'leashjs/leak';
import { collectOtelMetrics } from 'leashjs/metrics';
import { circuitBreaker, retry } from 'leashjs/resilience';
import { go } from 'leashjs/task';

const bg = background();

interface Point {
  attributes: Record<string, unknown>;
  value: number | { count: number; sum?: number; buckets: { boundaries: number[]; counts: number[] } };
}

test('a MeterProvider with an in-memory exporter reads counters, gauges and histograms', async () => {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const handle = collectOtelMetrics({
    meter: provider.getMeter('leash-test'),
    eventLoop: { intervalMs: 50, resolutionMs: 2 },
    maxNames: 3,
  });
  try {
    await go(bg, async () => 1).done;
    await assert.rejects(
      retry({ name: 'payments', maxAttempts: 2 }).execute(bg, async () => {
        throw new Error('down');
      }),
    );
    const breaker = circuitBreaker({ name: 'upstream' });
    breaker.forceOpen();
    for (let i = 0; i < 10; i++) circuitBreaker({ name: `hostile-${i}` }).forceOpen();
    const cache = createCache<number>({ name: 'users', maximumSize: 10 });
    await cache.getOrLoad(bg, 'a', async () => 1);
    await cache.getOrLoad(bg, 'a', async () => 2);
    diagnostics_channel
      .channel('leash:queue:start')
      .publish(Object.freeze({ queue: 'emails', id: '1', attempt: 1, waitMs: 40 }));
    await sleep(bg, 150); // a few event-loop intervals

    await reader.forceFlush();
    const exported = exporter.getMetrics();
    const last = exported[exported.length - 1];
    assert.ok(last !== undefined);
    const byName = new Map<string, { type: string; unit: string; points: Point[] }>();
    for (const scope of last.scopeMetrics) {
      for (const m of scope.metrics) {
        byName.set(m.descriptor.name, {
          type: String(m.dataPointType),
          unit: m.descriptor.unit,
          points: m.dataPoints as unknown as Point[],
        });
      }
    }
    const point = (name: string, attrs: Record<string, string> = {}): Point | undefined =>
      byName.get(name)?.points.find((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v));

    assert.equal(byName.get('leash_tasks_started')?.type, String(DataPointType.SUM));
    assert.ok(((point('leash_tasks_started')?.value as number) ?? 0) >= 1);
    assert.equal(point('leash_retries', { name: 'payments' })?.value, 1);
    assert.equal(point('leash_retry_give_ups', { name: 'payments', reason: 'attempts' })?.value, 1);
    assert.equal(point('leash_breaker_state', { name: 'upstream', state: 'forced-open' })?.value, 1);
    assert.equal(byName.get('leash_breaker_state')?.type, String(DataPointType.GAUGE));
    // maxNames: 3 -> payments, upstream, hostile-0, then other.
    const breakerNames = new Set(
      byName.get('leash_breaker_transitions')?.points.map((p) => p.attributes.name),
    );
    assert.deepEqual(breakerNames, new Set(['upstream', 'hostile-0', 'other']));
    assert.equal(point('leash_breaker_transitions', { name: 'other' })?.value, 9);
    assert.equal(point('leash_cache_requests', { name: 'users', result: 'hit' })?.value, 1);

    const wait = byName.get('leash_queue_wait');
    assert.equal(wait?.type, String(DataPointType.HISTOGRAM));
    assert.equal(wait?.unit, 's');
    const h = point('leash_queue_wait', { queue: 'emails' })?.value as { count: number; sum: number };
    assert.equal(h.count, 1);
    assert.ok(Math.abs(h.sum - 0.04) < 1e-9);
    const loads = point('leash_cache_load_duration', { name: 'users', outcome: 'ok' })?.value as {
      count: number;
    };
    assert.equal(loads.count, 1);

    const u = point('leash_event_loop_utilization')?.value as number;
    assert.ok(u > 0 && u <= 1, `utilisation ${u}`);
    assert.ok(((point('leash_event_loop_delay', { stat: 'p99' })?.value as number) ?? 0) > 0);
    assert.equal(byName.get('leash_event_loop_delay')?.unit, 's');
  } finally {
    handle.stop();
    handle.stop();
    await provider.shutdown();
  }
  // After stop nothing is subscribed and nothing runs.
  assert.equal(diagnostics_channel.channel('leash:cache:hit').hasSubscribers, false);
  await verifyNone();
});

test('collectOtelMetrics rejects what is not a Meter', () => {
  for (const meter of [undefined, null, {}, { createHistogram() {} }]) {
    assert.throws(
      () => collectOtelMetrics({ meter } as never),
      (err: unknown) =>
        err instanceof TypeError && (err as { code?: string }).code === 'LEASH_ERR_INVALID_ARG',
    );
  }
  assert.throws(
    () => collectOtelMetrics({ meter: {} as never, maxName: 3 } as never),
    /did you mean "maxNames"/,
  );
});
