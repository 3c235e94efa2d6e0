import assert from 'node:assert/strict';
import { test } from 'node:test';
import { METRICS, parseThreshold } from 'leashjs/load';

test('parseThreshold: operators, units, percentiles; an unknown metric names the known ones', () => {
  assert.deepEqual({ ...parseThreshold('p99<250') }, { expr: 'p99<250', metric: 'p99', op: '<', value: 250 });
  assert.equal(parseThreshold(' p99.9 <= 1.5s ').value, 1500);
  assert.equal(parseThreshold('p999<3ms').metric, 'p99.9');
  assert.equal(parseThreshold('errors<1%').value, 0.01);
  assert.equal(parseThreshold('leaked=0').op, '==');
  assert.equal(parseThreshold('rps>=1000').op, '>=');
  assert.ok(METRICS.includes('leaked_handles'));
  assert.throws(() => parseThreshold('p99<fast'), {
    code: 'LEASH_ERR_INVALID_ARG',
    message: /not "metric op number"/,
  });
  assert.throws(() => parseThreshold('latency<5'), {
    code: 'LEASH_ERR_INVALID_ARG',
    message: /unknown metric "latency" \(metrics: p50, .*leaked_handles/,
  });
  assert.throws(() => parseThreshold('leakd==0'), { message: /did you mean leaked\?/ });
  assert.throws(() => parseThreshold('p0<5'), { message: /unknown metric "p0"/ });
  assert.throws(() => parseThreshold('errors<5ms'), { message: /not a latency/ });
});
