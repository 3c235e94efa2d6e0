import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { debugHandler } from './debug-handler.js';
import { startTracking } from './tracker.js';

startTracking({ mode: 'full' });

async function withServer(fn: (base: string) => Promise<void>): Promise<void> {
  const debug = debugHandler();
  const server = http.createServer((req, res) => {
    if (!debug(req, res)) {
      res.writeHead(404);
      res.end('app');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

test('/debug/leash/tasks serves the profile (debug=1, debug=2, json)', async () => {
  const timer = setInterval(() => {}, 1000);
  try {
    await withServer(async (base) => {
      const one = await fetch(`${base}/debug/leash/tasks?debug=1`);
      assert.equal(one.status, 200);
      assert.match(await one.text(), /^leash profile: total/);
      const two = await (await fetch(`${base}/debug/leash/tasks?debug=2`)).text();
      assert.match(two, /resource \d+ Interval \[active/);
      const json = await (await fetch(`${base}/debug/leash/tasks?format=json`)).json();
      assert.equal(typeof (json as { total: number }).total, 'number');
    });
  } finally {
    clearInterval(timer);
  }
});

test('/debug/leash/trace?seconds=N records for N seconds and returns trace JSON', async () => {
  await withServer(async (base) => {
    const res = await fetch(`${base}/debug/leash/trace?seconds=0.2`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-disposition') ?? '', /leash-trace\.json/);
    const body = (await res.json()) as { traceEvents: unknown[] };
    assert.ok(Array.isArray(body.traceEvents));
    const bad = await fetch(`${base}/debug/leash/trace?seconds=1000`);
    assert.equal(bad.status, 400);
  });
});

test('other paths fall through to the app or to next()', async () => {
  await withServer(async (base) => {
    const res = await fetch(`${base}/debug/leash/other`);
    assert.equal(res.status, 404);
    assert.equal(await res.text(), 'app');
  });
  let nextCalled = false;
  const handled = debugHandler()(
    { url: '/x', method: 'GET' } as http.IncomingMessage,
    {} as http.ServerResponse,
    () => {
      nextCalled = true;
    },
  );
  assert.equal(handled, false);
  assert.ok(nextCalled);
  assert.throws(() => debugHandler({ prefix: 'nope' }), { code: 'LEASH_ERR_INVALID_ARG' });
});
