// leashjs/metrics fed by a real leashjs/queue (memory backend): the queue series agree with what
// the worker itself counted, for completed, retried, dead-lettered and cancelled jobs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { background, sleep } from 'leashjs';
import { verifyNone } from 'leashjs/leak';
import { collectMetrics } from 'leashjs/metrics';
import { createQueue } from 'leashjs/queue';
import { constantBackoff } from 'leashjs/resilience';
import { Registry } from 'prom-client';
import { parseExposition, value } from './exposition.js';

test('the queue series follow a real queue: enqueued, waits, runs by outcome, retries, dead letters, cancels, depth', async () => {
  const register = new Registry();
  const metrics = collectMetrics({ register });
  try {
    const q = createQueue<string>({ name: 'orders' });
    let flaky = 0;
    const w = q.work(
      background(),
      async (ctx, job) => {
        if (job === 'flaky' && flaky++ === 0) throw new Error('first attempt fails');
        if (job === 'broken') throw new Error('always fails');
        if (job === 'long') await sleep(ctx, 60_000);
      },
      { concurrency: 4, retries: 1, backoff: constantBackoff(5) },
    );
    for (const job of ['ok', 'flaky', 'broken', 'long']) await q.enqueue(background(), job, { id: job });
    while (w.stats.completed < 2 || w.stats.deadLettered < 1 || w.running !== 1) await sleep(background(), 5);
    assert.equal(await q.cancel('long'), true);
    while (w.stats.cancelled < 1) await sleep(background(), 5);
    await w.drain(100);

    const e = parseExposition(await register.metrics());
    const v = (name: string, labels: Record<string, string>): number | undefined =>
      value(e, name, { queue: 'orders', ...labels });
    assert.equal(v('leash_queue_enqueued_total', {}), 4);
    assert.equal(v('leash_queue_depth', {}), 0);
    assert.equal(v('leash_queue_running', {}), 0);
    // Attempts: ok 1, flaky 2, broken 2, long 1.
    assert.equal(v('leash_queue_wait_seconds_count', {}), 6);
    assert.equal(v('leash_queue_run_seconds_count', { outcome: 'completed' }), w.stats.completed);
    assert.equal(v('leash_queue_run_seconds_count', { outcome: 'failed' }), w.stats.failed);
    assert.equal(v('leash_queue_run_seconds_count', { outcome: 'cancelled' }), 1);
    assert.equal(v('leash_queue_retries_total', {}), w.stats.retried);
    assert.equal(v('leash_queue_dead_letters_total', {}), 1);
    assert.equal(v('leash_queue_cancelled_total', { running: 'true' }), 1);
    assert.deepEqual(
      { completed: w.stats.completed, failed: w.stats.failed, retried: w.stats.retried },
      { completed: 2, failed: 3, retried: 2 },
    );
  } finally {
    metrics.stop();
  }
  await verifyNone();
});
