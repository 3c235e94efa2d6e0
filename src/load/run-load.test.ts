import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { background, withCancel } from 'leashjs';
import { snapshot, verifyNone } from 'leashjs/leak';
import { runLoad } from 'leashjs/load';

test('runLoad: bad options throw LEASH_ERR_INVALID_ARG; a cancelled context rejects with its err; nothing is left behind', async () => {
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
  const base = snapshot();
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
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
  // Every socket, timer and interval of both runs is gone.
  await verifyNone({ baseline: base });
});
