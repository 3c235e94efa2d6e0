// serve() at the drain deadline, on a real server on loopback: a handler that ignores its context
// still gets its 503 from serve(), and a request that arrives after the deadline (on a connection
// opened before it) is answered 503 without running any handler.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { test } from 'node:test';
import { afterFunc, background, withCancel } from '../../src/context/index.js';
import { serve, withContext } from '../../src/http/index.js';
import { within } from './apps.js';

test('after the drain deadline nothing is admitted; a handler that ignores ctx still gets its answer', async () => {
  const [stopCtx, stop] = withCancel(background());
  const ran: string[] = [];
  let cancelled: (() => void) | undefined;
  const atDeadline = new Promise<void>((r) => {
    cancelled = r;
  });
  const server = http.createServer(
    withContext(background(), async (req, res) => {
      ran.push(String(req.url));
      afterFunc(req.ctx, () => cancelled?.());
      // Ignores its context: only serve() can answer this one.
      await new Promise((r) => setTimeout(r, 5_000).unref());
      if (!res.writableEnded) res.end('too late');
    }),
  );
  const drainMs = 100;
  const done = serve(stopCtx, server, { drainMs });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  try {
    const stuck = new Promise<number>((resolve, reject) => {
      http
        .get(`http://127.0.0.1:${port}/stuck`, { agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
    // A connection opened before the stop that sends its request only after the drain deadline.
    const raw = net.connect(port, '127.0.0.1');
    await new Promise((r) => raw.once('connect', r));
    let rawAnswer = '';
    raw.setEncoding('utf8');
    raw.on('data', (c: string) => {
      rawAnswer += c;
    });
    const rawClosed = new Promise((r) => raw.once('close', r));
    while (ran.length === 0) await new Promise((r) => setTimeout(r, 5));
    const t0 = performance.now();
    stop();
    // At the drain deadline (serve() cancels the stuck request), inside the 150 ms it then gives
    // cancelled handlers to answer: the connection is still open, the server admits nothing.
    await within(atDeadline, 3000, 'the drain deadline');
    raw.write('GET /late HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(await within(stuck, 3000, 'the stuck request'), 503);
    await within(rawClosed, 3000, 'the late connection to close');
    assert.match(rawAnswer, /^HTTP\/1\.1 503 /);
    assert.match(rawAnswer, /\r\nconnection: close\r\n/i);
    assert.deepEqual(ran, ['/stuck'], 'the late request ran no handler');
    const report = await within(done, 3000, 'serve() to resolve');
    const took = performance.now() - t0;
    assert.deepEqual(report, { inFlight: 1, canceled: 1, refused: 1 });
    assert.ok(took < drainMs + 250 + 500, `serve() resolved after ${took.toFixed(0)} ms`);
  } finally {
    stop();
    server.closeAllConnections();
  }
});
