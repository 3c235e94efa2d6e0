// The raw-socket client's response framing, through runLoad against real node:http servers:
// chunked bodies split across writes, Content-Length bodies, empty bodies, statuses >= 400,
// Connection: close (a new connection per request), HEAD, and a server that never answers.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { background } from 'leashjs';
import { runLoad } from 'leashjs/load';

async function serve(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/x?y=1`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

test('chunked, sized and empty bodies, 4xx statuses: every answer is framed and counted', async () => {
  let n = 0;
  const s = await serve((req, res) => {
    assert.equal(req.url, '/x?y=1');
    const i = n++;
    if (i % 4 === 0) {
      // Chunked, in pieces sent at different times.
      res.write('a'.repeat(5000));
      setTimeout(() => res.end('b'.repeat(70_000)), 2);
    } else if (i % 4 === 1) res.writeHead(404, { 'content-length': '3' }).end('no!');
    else if (i % 4 === 2) res.writeHead(204).end();
    else res.end(Buffer.alloc(100_000, 'z'));
  });
  try {
    const r = await runLoad(background(), { url: s.url, rate: 400, durationMs: 500, connections: 8 });
    assert.equal(r.requests, 200);
    const statuses = Object.entries(r.statuses).sort();
    assert.equal(r.failures.protocol + r.failures.reset + r.failures.timeout + r.failures.connect, 0);
    assert.equal(
      statuses.reduce((a, [, c]) => a + c, 0),
      200,
    );
    assert.ok((r.statuses[404] ?? 0) >= 40 && (r.statuses[204] ?? 0) >= 40 && (r.statuses[200] ?? 0) >= 80);
    assert.equal(r.errors, r.statuses[404]);
    assert.ok(r.connectionsOpened <= 8);
  } finally {
    await s.close();
  }
});

test('Connection: close opens a connection per request; HEAD has no body; POST sends its body', async () => {
  const bodies: string[] = [];
  const s = await serve((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      bodies.push(`${req.method} ${body}`);
      res.setHeader('connection', 'close');
      res.end('bye');
    });
  });
  try {
    const r = await runLoad(background(), {
      url: s.url,
      rate: 100,
      durationMs: 200,
      method: 'POST',
      body: '{"a":1}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(r.requests, 20);
    assert.equal(r.errors, 0);
    assert.equal(r.connectionsOpened, 20);
    assert.ok(bodies.every((b) => b === 'POST {"a":1}'));
    const head = await runLoad(background(), { url: s.url, rate: 100, durationMs: 100, method: 'HEAD' });
    assert.deepEqual(head.statuses, { 200: 10 });
  } finally {
    await s.close();
  }
});

test('a target that never answers: each request times out once, measured from its intended time', async () => {
  const s = await serve(() => {});
  try {
    const r = await runLoad(background(), {
      url: s.url,
      rate: 50,
      durationMs: 200,
      connections: 2,
      timeoutMs: 100,
    });
    assert.equal(r.requests, 10);
    assert.equal(r.failures.timeout, 10);
    assert.equal(r.errorRate, 1);
    assert.ok(r.latency.min >= 100, `a timeout is recorded at its timeout (${r.latency.min} ms)`);
  } finally {
    await s.close();
  }
});
