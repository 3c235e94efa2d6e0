import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Histogram } from 'leashjs/load';

test('Histogram: percentiles of a uniform 0.01..1000 ms spread within 1.6%, exact min, max and mean', () => {
  const h = new Histogram();
  for (let i = 1; i <= 100_000; i++) h.record(i / 100);
  assert.equal(h.count, 100_000);
  assert.equal(h.min, 0.01);
  assert.equal(h.max, 1000);
  assert.ok(Math.abs(h.mean - 500.005) < 1e-6);
  for (const p of [1, 10, 50, 90, 99, 99.9]) {
    const want = p * 10;
    const got = h.percentile(p);
    assert.ok(got >= want && got <= want * 1.016, `p${p}: ${got} for ${want}`);
  }
  assert.equal(h.percentile(100), 1000);
});

test('Histogram: exact below 0.128 ms, empty is all zeros, add merges, huge values are clamped', () => {
  const h = new Histogram();
  assert.deepEqual([h.count, h.min, h.max, h.mean, h.percentile(99)], [0, 0, 0, 0, 0]);
  h.record(0.05);
  h.record(0.1);
  h.record(-3);
  assert.deepEqual([h.percentile(33), h.percentile(66), h.percentile(100)], [0, 0.05, 0.1]);
  const other = new Histogram();
  other.record(250);
  h.add(other);
  assert.equal(h.count, 4);
  assert.equal(h.max, 250);
  assert.ok(h.percentile(100) === 250);
  const big = new Histogram();
  big.record(1e12);
  assert.ok(big.percentile(50) > 3.6e7 && Number.isFinite(big.percentile(50)));
});
