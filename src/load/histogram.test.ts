import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { background, withCancel } from 'leashjs';
import { Histogram, METRICS, parseThreshold, runLoad } from 'leashjs/load';

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

test('runLoad: bad options throw LEASH_ERR_INVALID_ARG; a cancelled context rejects with its err', async () => {
  const ctx = background();
  assert.throws(() => runLoad(ctx, { url: 'ftp://x/' }), {
    code: 'LEASH_ERR_INVALID_ARG',
    message: /http: or https:/,
  });
  assert.throws(() => runLoad(ctx, { url: 'http://x/', rate: 0 }), {
    code: 'LEASH_ERR_INVALID_ARG',
    message: /rate/,
  });
  assert.throws(() => runLoad(ctx, { url: 'http://x/', rat: 5 } as never), {
    message: /did you mean "rate"/,
  });
  assert.throws(() => runLoad({} as never, { url: 'http://x/' }), { code: 'LEASH_ERR_INVALID_ARG' });
  const [done, cancelDone] = withCancel(ctx);
  cancelDone();
  await assert.rejects(runLoad(done, { url: 'http://127.0.0.1:1/' }), (e) => e === done.err);

  // Cancelled mid-run: rejects with ctx.err, and every connection it opened is closed.
  const server = http.createServer((_req, res) => setTimeout(() => res.end('ok'), 5));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const [run, cancel] = withCancel(ctx);
    setTimeout(cancel, 300);
    await assert.rejects(runLoad(run, { url, rate: 200, durationMs: 10_000 }), (e) => e === run.err);
    const open = await new Promise<number>((r) => server.getConnections((_e, n) => r(n)));
    for (
      let i = 0;
      i < 50 && (await new Promise<number>((r) => server.getConnections((_e, n) => r(n)))) > 0;
      i++
    )
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(
      await new Promise<number>((r) => server.getConnections((_e, n) => r(n))),
      0,
      `${open} left open`,
    );
    // And a full run resolves with every request answered.
    const r = await runLoad(ctx, { url, rate: 200, durationMs: 500, connections: 4 });
    assert.equal(r.requests, 100);
    assert.equal(r.errors, 0);
    assert.deepEqual(r.statuses, { 200: 100 });
    assert.ok(r.latency.percentile(50) >= 5, 'latency includes the 5 ms service time');
  } finally {
    server.close();
  }
});
