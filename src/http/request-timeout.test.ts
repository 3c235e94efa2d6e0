import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseRequestTimeout } from './request-timeout.js';

test('parseRequestTimeout accepts whole milliseconds', () => {
  assert.equal(parseRequestTimeout('0'), 0);
  assert.equal(parseRequestTimeout('1500'), 1500);
  assert.equal(parseRequestTimeout('007'), 7);
});

test('parseRequestTimeout ignores everything else', () => {
  for (const bad of [
    undefined,
    '',
    '-1',
    '1.5',
    '1e3',
    ' 100',
    '100 ',
    '10s',
    '0x10',
    'Infinity',
    'NaN',
    '9'.repeat(16),
  ]) {
    assert.equal(parseRequestTimeout(bad), undefined, JSON.stringify(bad));
  }
  assert.equal(parseRequestTimeout(['100', '200']), undefined);
});

test('parseRequestTimeout: any result is a safe non-negative integer and round-trips', () => {
  fc.assert(
    fc.property(fc.string(), (s) => {
      const v = parseRequestTimeout(s);
      if (v === undefined) return true;
      return Number.isSafeInteger(v) && v >= 0 && /^\d+$/.test(s) && v === Number(s);
    }),
  );
  fc.assert(fc.property(fc.integer({ min: 0, max: 1e14 }), (n) => parseRequestTimeout(String(n)) === n));
});
