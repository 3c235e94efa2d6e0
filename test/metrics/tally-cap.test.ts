// The process table of cache tallies (src/context/tallies.ts) holds at most 1,000 cache names; the
// names past it count into one shared tally that metrics labels `other`. Alone in its process: the
// table lasts as long as the process, so filling it here would fold every later test's caches.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCache } from 'leashjs/cache';
import { collectMetrics } from 'leashjs/metrics';
import { Registry } from 'prom-client';
import { parseExposition, value } from './exposition.js';

test('past 1,000 cache names, lookups are still counted (under other), none lost and none twice', async () => {
  const register = new Registry();
  const metrics = collectMetrics({ register, eventLoop: false, maxNames: 5000 });
  try {
    const NAMES = 1_200;
    for (let i = 0; i < NAMES; i++) {
      const c = createCache<number>({ name: `c${i}`, maximumSize: 1 });
      c.set('k', i);
      assert.equal(c.get('k'), i);
      assert.equal(c.get('missing'), undefined);
    }
    const e = parseExposition(await register.metrics());
    const lookups = e.samples.filter((s) => s.name === 'leash_cache_requests_total');
    const names = new Set(lookups.map((s) => s.labels.name));
    // maxNames is above the table's cap here, so the cap alone decides: 1,000 names and other.
    assert.equal(names.size, 1_001);
    assert.ok(names.has('c0') && names.has('c999') && !names.has('c1000'));
    assert.equal(
      value(e, 'leash_cache_requests_total', { name: 'other', tier: 'memory', result: 'hit' }),
      200,
    );
    assert.equal(
      value(e, 'leash_cache_requests_total', { name: 'other', tier: 'memory', result: 'miss' }),
      200,
    );
    assert.equal(
      lookups.reduce((sum, s) => sum + s.value, 0),
      2 * NAMES,
    );
    assert.equal(value(e, 'leash_metrics_label_overflow_total', { kind: 'cache' }), 400);
  } finally {
    metrics.stop();
  }
});
