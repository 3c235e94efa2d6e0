// leashjs/chaos on real servers on 127.0.0.1, for each of the four leashjs/http adapters (node:http,
// Express, Fastify, Koa), and around leashjs/http's fetch: a hang released by the request's deadline
// (x-request-timeout), a dropped connection seen by a real client, errors with their status,
// latency, the header blast radius, and nothing left behind. Imports the built package (run
// `npm run build` first).
import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { background, type Context, isDeadlineExceeded, withTimeout } from 'leashjs';
import {
  type ChaosController,
  ChaosError,
  type ChaosInjectedEvent,
  type ChaosSpec,
  chaosController,
  chaosFastify,
  chaosFetch,
  chaosKoa,
  chaosMiddleware,
  withChaos,
} from 'leashjs/chaos';
import { contextOf, expressContext, fastifyContext, koaContext, withContext } from 'leashjs/http';
import { snapshot, verifyNone } from 'leashjs/leak';

type Kind = 'node' | 'express' | 'fastify' | 'koa';

interface App {
  url: string;
  /** ended collects, per request, how its leash context ended (its err), in arrival order. */
  ended: unknown[];
  close(): Promise<void>;
}

async function startApp(kind: Kind, controller: ChaosController): Promise<App> {
  const ended: unknown[] = [];
  const watch = (ctx: Context) => {
    ctx.done.then(() => ended.push(ctx.err));
  };
  let server: http.Server;
  let closeApp: (() => Promise<void>) | undefined;
  if (kind === 'node') {
    server = http.createServer(
      withContext(
        background(),
        withChaos(controller, (req: http.IncomingMessage & { ctx: Context }, res: http.ServerResponse) => {
          watch(req.ctx);
          res.end('ok');
        }),
      ),
    );
  } else if (kind === 'express') {
    const app = express();
    app.set('env', 'test'); // finalhandler prints no stack for the injected errors
    app.use(expressContext(background()));
    app.use(chaosMiddleware(controller));
    app.get('/', (req, res) => {
      watch(contextOf(req));
      res.send('ok');
    });
    server = http.createServer(app);
  } else if (kind === 'fastify') {
    const app = Fastify({ logger: false });
    await app.register(fastifyContext(background()));
    await app.register(chaosFastify(controller));
    app.get('/', async (request) => {
      watch(contextOf(request));
      return 'ok';
    });
    await app.ready();
    server = app.server;
    closeApp = () => app.close();
  } else {
    const app = new Koa();
    app.silent = true;
    app.use(koaContext(background()));
    app.use(chaosKoa(controller));
    app.use(async (kctx) => {
      watch(contextOf(kctx));
      kctx.body = 'ok';
    });
    server = http.createServer(app.callback());
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    ended,
    async close() {
      server.closeAllConnections();
      if (closeApp) await closeApp();
      else await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Answer {
  status: number;
  body: string;
  ms: number;
}

/** get sends one request on its own connection and resolves with the answer, or rejects with the socket error. */
function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('client timed out after 5 s')));
  });
}

const only = (fault: ChaosSpec['faults']): ChaosSpec => ({ seed: 1, target: null, faults: fault });

for (const kind of ['node', 'express', 'fastify', 'koa'] as const) {
  describe(`chaos on ${kind}`, () => {
    const controller = chaosController({ name: `chaos-${kind}`, seed: 1 });
    let app: App;
    let base: ReturnType<typeof snapshot>;
    before(async () => {
      app = await startApp(kind, controller);
      base = snapshot();
    });
    after(() => app.close());

    test('no fault: the route answers', async () => {
      controller.update(only([]));
      const r = await get(app.url);
      assert.equal(r.status, 200);
      assert.equal(r.body, 'ok');
    });

    test('hang: released by the request deadline (x-request-timeout), answered 504 by leashjs/http', async () => {
      controller.update(only([{ type: 'hang', probability: 1 }]));
      const r = await get(app.url, { 'x-request-timeout': '150' });
      assert.equal(r.status, 504);
      assert.ok(r.ms >= 140 && r.ms < 2_000, `answered after ${r.ms} ms`);
      assert.equal(controller.toJSON().injected.hang, 1);
    });

    test('drop: the client sees its connection reset; the route never runs', async () => {
      controller.update(only([{ type: 'drop', probability: 1 }]));
      const before = app.ended.length;
      await assert.rejects(get(app.url), (e: NodeJS.ErrnoException) => {
        assert.ok(e.code === 'ECONNRESET' || /socket hang up/.test(e.message), String(e));
        return true;
      });
      assert.equal(app.ended.length, before, 'the route did not run');
    });

    test('error: answered with the fault’s status; leash:chaos:injected says where', async () => {
      controller.update(only([{ type: 'error', probability: 1, status: 503, message: 'chaos says no' }]));
      const events: ChaosInjectedEvent[] = [];
      const on = (m: unknown) => events.push(m as ChaosInjectedEvent);
      diagnostics_channel.subscribe('leash:chaos:injected', on);
      const r = await get(app.url).finally(() => diagnostics_channel.unsubscribe('leash:chaos:injected', on));
      assert.deepEqual(events, [
        { name: `chaos-${kind}`, fault: 'error', via: 'middleware', seq: 1, ms: undefined },
      ]);
      assert.equal(r.status, 503);
      if (kind === 'node' || kind === 'koa') assert.match(r.body, /chaos says no/);
    });

    test('latency: the answer comes after ms', async () => {
      controller.update(only([{ type: 'latency', probability: 1, ms: 80 }]));
      const r = await get(app.url);
      assert.equal(r.status, 200);
      assert.ok(r.ms >= 75, `answered after ${r.ms} ms`);
    });

    test('latency longer than the deadline: 504 at the deadline, the route never runs', async () => {
      controller.update(only([{ type: 'latency', probability: 1, ms: 5_000 }]));
      const before = app.ended.length;
      const r = await get(app.url, { 'x-request-timeout': '100' });
      assert.equal(r.status, 504);
      assert.ok(r.ms < 2_000);
      assert.equal(app.ended.length, before);
    });

    test('blast radius by header: only requests carrying x-leash-chaos get the fault', async () => {
      controller.update({
        ...only([{ type: 'error', probability: 1, status: 500 }]),
        target: { header: 'x-leash-chaos' },
      });
      assert.equal((await get(app.url)).status, 200);
      assert.equal((await get(app.url, { 'x-leash-chaos': 'off' })).status, 200);
      assert.equal((await get(app.url, { 'x-leash-chaos': '1' })).status, 500);
      controller.update({ target: null });
    });

    test('the same seed gives the same sequence of answers', async () => {
      const spec = only([
        { type: 'error', probability: 0.3, status: 502 },
        { type: 'latency', probability: 0.2, ms: 1 },
      ]);
      const run = async () => {
        controller.update(spec);
        const out: number[] = [];
        for (let i = 0; i < 30; i++) out.push((await get(app.url)).status);
        return out;
      };
      const a = await run();
      const b = await run();
      assert.deepEqual(b, a);
      assert.ok(a.includes(502) && a.includes(200));
    });

    // Not an async function: its own promise would be created after the baseline and counted.
    test('nothing left behind: every request context, wait and socket of the faults above is gone', () =>
      verifyNone({ baseline: base }));
  });
}

describe('chaosFetch', () => {
  let server: http.Server;
  let url: string;
  const closed: { finished: boolean }[] = [];
  before(async () => {
    // Sends its headers, then the body 300 ms later: a drop cuts the connection in between.
    server = http.createServer((req, res) => {
      const entry = { finished: false };
      res.on('close', () => {
        entry.finished = res.writableFinished;
        closed.push(entry);
      });
      if (req.url === '/slow-body') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial ');
        const t = setTimeout(() => res.end('rest'), 300);
        res.on('close', () => clearTimeout(t));
      } else res.end(`seen ${req.headers['x-leash-chaos'] ?? '-'}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('drop: the request reaches the server, the connection is cut under the body, the caller gets a ChaosError', async () => {
    const base = snapshot();
    const f = chaosFetch(chaosController(only([{ type: 'drop', probability: 1 }])));
    const n = closed.length;
    await assert.rejects(f(background(), `${url}/slow-body`), (e: unknown) => {
      assert.ok(e instanceof ChaosError);
      assert.equal(e.fault, 'drop');
      return true;
    });
    const t0 = performance.now();
    while (closed.length === n && performance.now() - t0 < 2_000) await new Promise((r) => setTimeout(r, 10));
    assert.equal(closed.length, n + 1, 'the server saw the connection close');
    assert.equal(closed.at(-1)?.finished, false, 'before its response was complete');
    // After an aborted request undici opens one spare connection to the origin and keeps it idle for
    // its keepAliveTimeout (4 s); our server holds its other end until undici closes it.
    await verifyNone({ baseline: base, timeoutMs: 8_000 });
  });

  test('error, latency, hang and the header radius on outgoing requests', async () => {
    const c = chaosController({
      ...only([{ type: 'error', probability: 1 }]),
      target: { header: 'x-leash-chaos' },
    });
    const f = chaosFetch(c);
    assert.equal(await (await f(background(), url)).text(), 'seen -');
    await assert.rejects(f(background(), url, { headers: { 'x-leash-chaos': '1' } }), ChaosError);
    await assert.rejects(
      f(background(), new Request(url, { headers: { 'x-leash-chaos': 'yes' } })),
      ChaosError,
    );

    c.update({ target: null, faults: [{ type: 'latency', probability: 1, ms: 60 }] });
    const t0 = performance.now();
    assert.equal((await f(background(), url)).status, 200);
    assert.ok(performance.now() - t0 >= 55);

    c.update({ faults: [{ type: 'hang', probability: 1 }] });
    const [ctx, cancel] = withTimeout(background(), 80);
    const n = closed.length;
    await assert.rejects(f(ctx, url), (e) => isDeadlineExceeded(e));
    cancel();
    assert.equal(closed.length, n, 'a hung fetch never reached the server');
  });
});
