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

test('parseThreshold: a threshold that can never fail, or never pass, is refused with what to write instead', () => {
  const refused = (expr: string, message: string) =>
    assert.throws(() => parseThreshold(expr), { name: 'TypeError', code: 'LEASH_ERR_INVALID_ARG', message });
  refused(
    'errors<2',
    'threshold "errors<2": errors is a fraction of the requests, from 0 to 1 (0% to 100%), so errors<2 always passes; for 2% write errors<2%',
  );
  refused(
    'errors<150%',
    'threshold "errors<150%": errors is a fraction of the requests, from 0 to 1 (0% to 100%), so errors<150% always passes; give a bound from 0% to 100%',
  );
  refused(
    'errors>1.5',
    'threshold "errors>1.5": errors is a fraction of the requests, from 0 to 1 (0% to 100%), so errors>1.5 never passes; for 1.5% write errors>1.5%',
  );
  refused('p99<-5', 'threshold "p99<-5": p99 is a latency in ms, never below 0, so p99<-5 never passes');
  refused(
    'mean>-1s',
    'threshold "mean>-1s": mean is a latency in ms, never below 0, so mean>-1s always passes',
  );
  refused('p99<0', 'threshold "p99<0": p99 is a latency in ms, never below 0, so p99<0 never passes');
  refused(
    'max>=0ms',
    'threshold "max>=0ms": max is a latency in ms, never below 0, so max>=0ms always passes',
  );
  refused(
    'errors<=100%',
    'threshold "errors<=100%": errors is a fraction of the requests, from 0 to 1 (0% to 100%), so errors<=100% always passes',
  );
  refused(
    'errors>1',
    'threshold "errors>1": errors is a fraction of the requests, from 0 to 1 (0% to 100%), so errors>1 never passes',
  );
  refused('rps>=0', 'threshold "rps>=0": rps is a rate per second, never below 0, so rps>=0 always passes');
  refused(
    'leaked!=-1',
    'threshold "leaked!=-1": leaked is a count, a whole number >= 0, so leaked!=-1 always passes',
  );
  refused(
    'leaked==0.5',
    'threshold "leaked==0.5": leaked is a count, a whole number >= 0, so leaked==0.5 never passes',
  );
  refused(
    'error_count!=2.5',
    'threshold "error_count!=2.5": error_count is a count, a whole number >= 0, so error_count!=2.5 always passes',
  );
  refused('p99<1e999', 'threshold "p99<1e999": 1e999 is not a finite number');
  // The bounds themselves, where the gate can go either way, are accepted.
  assert.equal(parseThreshold('errors<1').value, 1);
  assert.equal(parseThreshold('errors>=100%').value, 1);
  assert.equal(parseThreshold('errors<=0').value, 0);
  assert.equal(parseThreshold('errors>0').value, 0);
  assert.equal(parseThreshold('p99<=0').value, 0);
  assert.equal(parseThreshold('p99>0').value, 0);
  assert.equal(parseThreshold('leaked==0').value, 0);
  assert.equal(parseThreshold('requests>=99.5').value, 99.5);
  assert.equal(parseThreshold('errors<0.5%').value, 0.005);
});
