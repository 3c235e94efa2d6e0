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
  h.record(0);
  assert.deepEqual(
    [h.percentile(0), h.percentile(33), h.percentile(66), h.percentile(100)],
    [0, 0, 0.05, 0.1],
  );
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

test('Histogram: record takes a finite number of ms >= 0, percentile a number from 0 to 100; anything else throws and counts nothing', () => {
  const h = new Histogram();
  h.record(5);
  const invalid = (fn: () => unknown, message: string) =>
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof TypeError);
      assert.equal((e as { code?: string }).code, 'LEASH_ERR_INVALID_ARG');
      assert.equal(e.message, message);
      return true;
    });
  const record = h.record.bind(h) as (v: unknown) => void;
  for (const [bad, got] of [
    [Number.NaN, 'the number NaN'],
    [-100, 'the number -100'],
    [-0.001, 'the number -0.001'],
    [Number.POSITIVE_INFINITY, 'the number Infinity'],
    ['7', 'the string "7"'],
    [null, 'null'],
    [undefined, 'undefined'],
    [{}, 'an object'],
    [7n, 'the bigint 7n'],
  ] as const) {
    invalid(
      () => record(bad),
      `Histogram.record(ms): ms must be a finite number of milliseconds >= 0, got ${got}`,
    );
  }
  assert.deepEqual([h.count, h.min, h.max, h.mean], [1, 5, 5, 5], 'no bad value was counted');
  const percentile = h.percentile.bind(h) as (v: unknown) => number;
  for (const [bad, got] of [
    [Number.NaN, 'the number NaN'],
    [101, 'the number 101'],
    [-1, 'the number -1'],
    [undefined, 'undefined'],
    ['50', 'the string "50"'],
  ] as const) {
    invalid(
      () => percentile(bad),
      `Histogram.percentile(p): p must be a finite number from 0 to 100, got ${got}`,
    );
    invalid(
      () => new Histogram().percentile(bad as number),
      `Histogram.percentile(p): p must be a finite number from 0 to 100, got ${got}`,
    );
  }
  invalid(
    () => h.add({} as Histogram),
    'Histogram.add(other): other must be a Histogram (from leashjs/load), got an object',
  );
  assert.equal(h.count, 1);
});
