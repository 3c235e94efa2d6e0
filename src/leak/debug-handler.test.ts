import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
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

// Sends one raw request (the request line exactly as given) and returns the status line and body.
function rawRequest(port: number, requestLine: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.end(`${requestLine}\r\nHost: x\r\nConnection: close\r\n\r\n`);
    });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => (data += d));
    socket.once('error', reject);
    socket.once('close', () => resolve(data));
  });
}

async function listen(server: http.Server, fn: (port: number) => Promise<void>): Promise<void> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn((server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

test('a malformed request line does not throw: the app answers, the server lives on', async () => {
  const debug = debugHandler();
  const server = http.createServer((req, res) => {
    if (!debug(req, res)) {
      res.writeHead(404);
      res.end('app');
    }
  });
  await listen(server, async (port) => {
    for (const line of [
      'GET http://[ HTTP/1.1',
      'GET http://[/debug/leash/tasks HTTP/1.1',
      'GET * HTTP/1.1',
    ]) {
      const answer = await rawRequest(port, line);
      assert.match(answer, /^HTTP\/1\.1 404/, `${line}: ${answer}`);
    }
    assert.match(await rawRequest(port, 'GET /debug/leash/tasks HTTP/1.1'), /^HTTP\/1\.1 200/);
  });
});

test('answers only when the raw url starts with its prefix, as a startsWith guard reads it', async () => {
  const debug = debugHandler();
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/debug') && req.headers.authorization !== 'Bearer ok') {
      res.writeHead(401);
      res.end('auth');
      return;
    }
    if (!debug(req, res)) {
      res.writeHead(404);
      res.end('app');
    }
  });
  await listen(server, async (port) => {
    for (const target of [
      'http://x/debug/leash/tasks',
      '//x/debug/leash/tasks',
      'http://x/debug/leash/trace?seconds=1',
    ]) {
      const answer = await rawRequest(port, `GET ${target} HTTP/1.1`);
      assert.match(answer, /^HTTP\/1\.1 404/, target);
      assert.doesNotMatch(answer, /leash profile/, target);
    }
    assert.match(await rawRequest(port, 'GET /debug/leash/tasks HTTP/1.1'), /^HTTP\/1\.1 401/);
  });
});

test("behind Express's app.use('/debug', auth) nothing reaches the profile without auth", async () => {
  const { default: express } = await import('express');
  const app = express();
  app.use('/debug', (req, res, next) => {
    if (req.headers.authorization === 'Bearer ok') next();
    else res.status(401).end('auth');
  });
  app.use(debugHandler());
  app.use((_req, res) => {
    res.status(404).end('app');
  });
  await listen(http.createServer(app), async (port) => {
    for (const target of ['//x/debug/leash/tasks', 'http://x/debug/leash/tasks', '/debug/leash/tasks']) {
      const answer = await rawRequest(port, `GET ${target} HTTP/1.1`);
      assert.match(answer, /^HTTP\/1\.1 40[14]/, `${target}: ${answer}`);
      assert.doesNotMatch(answer, /leash profile/, target);
    }
    const res = await fetch(`http://127.0.0.1:${port}/debug/leash/tasks`, {
      headers: { authorization: 'Bearer ok' },
    });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^leash profile/);
  });
});

test('traces are bounded: one at a time (503 + Retry-After), events capped', async () => {
  const debug = debugHandler({ maxTraceEvents: 16 });
  const server = http.createServer((req, res) => {
    if (!debug(req, res)) {
      res.writeHead(404);
      res.end('app');
    }
  });
  await listen(server, async (port) => {
    const base = `http://127.0.0.1:${port}/debug/leash/trace`;
    const first = fetch(`${base}?seconds=0.3`);
    await new Promise((r) => setTimeout(r, 50));
    const busy = await fetch(`${base}?seconds=0.1`);
    assert.equal(busy.status, 503);
    assert.ok(Number(busy.headers.get('retry-after')) >= 1);
    await busy.text();
    const done = await first;
    assert.equal(done.status, 200);
    const body = (await done.json()) as { traceEvents: Array<{ ph: string }> };
    // At most 16 recorded events (complete pairs only) plus closing ends and two metadata events.
    assert.ok(body.traceEvents.length <= 16 + 16 + 2, `${body.traceEvents.length} events`);
    const again = await fetch(`${base}?seconds=0.05`);
    assert.equal(again.status, 200, 'the slot is free once the trace ended');
    await again.text();
    for (const bad of ['0', '-1', 'abc', '1e3', '31']) {
      const r = await fetch(`${base}?seconds=${bad}`);
      assert.equal(r.status, 400, bad);
      await r.text();
    }
  });
  assert.throws(() => debugHandler({ maxConcurrentTraces: 0 }), { code: 'LEASH_ERR_INVALID_ARG' });
  assert.throws(() => debugHandler({ maxTraceSecond: 1 } as never), /did you mean "maxTraceSeconds"/);
});
