import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maxStatementTimeoutMs, resetTimeoutSql, setTimeoutSql, statementTimeoutMs } from './budget.js';

test('statementTimeoutMs rounds the remaining budget down to whole ms, so the backstop never outlives the context', () => {
  assert.equal(statementTimeoutMs(2000), 2000);
  assert.equal(statementTimeoutMs(1999.999), 1999);
  assert.equal(statementTimeoutMs(1.5), 1);
});

test('statementTimeoutMs never sends 0 (which means "no limit") for a budget that is almost or entirely spent', () => {
  assert.equal(statementTimeoutMs(0.4), 1);
  assert.equal(statementTimeoutMs(0), 1);
  assert.equal(statementTimeoutMs(-5), 1);
  assert.equal(statementTimeoutMs(Number.NaN), 1);
});

test('statementTimeoutMs caps at PostgreSQL’s maximum, which a far deadline would exceed', () => {
  assert.equal(maxStatementTimeoutMs, 2 ** 31 - 1);
  assert.equal(statementTimeoutMs(30 * 24 * 3600 * 1000), maxStatementTimeoutMs);
  assert.equal(statementTimeoutMs(Number.MAX_VALUE), maxStatementTimeoutMs);
});

test('statementTimeoutMs gives 0 (send nothing) when there is no deadline', () => {
  assert.equal(statementTimeoutMs(Number.POSITIVE_INFINITY), 0);
});

test('setTimeoutSql only ever interpolates an integer in range', () => {
  assert.equal(setTimeoutSql(150), 'SET statement_timeout = 150');
  assert.equal(resetTimeoutSql, 'RESET statement_timeout');
  for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 31]) assert.throws(() => setTimeoutSql(bad), RangeError);
});
