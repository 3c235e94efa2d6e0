// Acceptance tests for `leashjs/http`, written from docs/http.md alone, through the package name as a
// user would import it (run `npm run build` first). Real servers on 127.0.0.1, no mocks.
import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import type { Context } from 'leashjs';
import {
  background,
  cause,
  isCanceled,
  isDeadlineExceeded,
  remaining,
  sleep,
  withCancel,
  withTimeout,
} from 'leashjs';
import type { HandlerErrorEvent, RequestEndEvent, RequestStartEvent } from 'leashjs/http';
import {
  ClientGoneError,
  contextOf,
  currentContext,
  expressContext,
  fastifyContext,
  fetch,
  koaContext,
  requestIdKey,
  responseFinished,
  ServerShutdownError,
  serve,
  traceparentKey,
  withContext,
} from 'leashjs/http';
import { expectInvalid } from './support.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(
  url: string,
  headers: Record<string, string> = {},
  agent: http.Agent | false = false,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

async function listen(server: http.Server): Promise<{ url: string; close: () => Promise<void> }> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      if (server.listening) await new Promise((r) => server.close(r));
    },
  };
}

async function quietly<T>(fn: () => Promise<T>): Promise<{ value: T; printed: unknown[][] }> {
  const printed: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => {
    printed.push(args);
  };
  try {
    return { value: await fn(), printed };
  } finally {
    console.error = original;
  }
}

describe('Deadline (docs: the header may only shorten timeoutMs; maxTimeoutMs allows more)', () => {
  // The table in docs/http.md, row by row.
  const rows: [number | undefined, number | undefined, string | undefined, number | undefined][] = [
    [1000, undefined, undefined, 1000],
    [1000, undefined, '200', 200],
    [1000, undefined, '999999999999999', 1000],
    [undefined, 5000, undefined, 5000],
    [undefined, 5000, '200', 200],
    [undefined, 5000, '999999999999999', 5000],
    [1000, 5000, undefined, 1000],
    [1000, 5000, '200', 200],
    [1000, 5000, '3000', 3000],
    [undefined, undefined, undefined, undefined],
    [undefined, undefined, '200', 200],
  ];
  test('every row of the table', async () => {
    for (const [timeoutMs, maxTimeoutMs, header, expected] of rows) {
      const opts = {
        ...(timeoutMs !== undefined && { timeoutMs }),
        ...(maxTimeoutMs !== undefined && { maxTimeoutMs }),
      };
      const srv = await listen(
        http.createServer(withContext(background(), (req, res) => res.end(String(remaining(req.ctx))), opts)),
      );
      try {
        const got = Number(
          (await get(`${srv.url}/`, header === undefined ? {} : { 'x-request-timeout': header })).body,
        );
        const what = `timeoutMs ${timeoutMs}, maxTimeoutMs ${maxTimeoutMs}, header ${header}`;
        if (expected === undefined) assert.equal(got, Number.POSITIVE_INFINITY, what);
        else assert.ok(got <= expected && got > expected - 200, `${what}: ${got}, expected ${expected}`);
      } finally {
        await srv.close();
      }
    }
  });

  test('a deadline that passes first is answered 504 (timeoutStatus changes it)', async () => {
    for (const [opts, status] of [
      [{ timeoutMs: 50 }, 504],
      [{ timeoutMs: 50, timeoutStatus: 503 }, 503],
    ] as const) {
      const srv = await listen(
        http.createServer(withContext(background(), async (req) => sleep(req.ctx, 5000), opts)),
      );
      try {
        assert.equal((await get(`${srv.url}/`)).status, status);
      } finally {
        await srv.close();
      }
    }
  });
});

describe('when the request context ends (the table)', () => {
  test('response sent: responseFinished; client gone: ClientGoneError; root ended: the root', async () => {
    const [root, cancelRoot] = withCancel(background());
    const seen: Context[] = [];
    let arrived: (() => void) | undefined;
    const srv = await listen(
      http.createServer(
        withContext(root, async (req, res) => {
          seen.push(req.ctx);
          if (req.url === '/ok') return void res.end('ok');
          arrived?.();
          await sleep(req.ctx, 10_000); // rejects when the context ends: withContext answers
        }),
      ),
    );
    try {
      await get(`${srv.url}/ok`);
      await seen[0]!.done;
      assert.equal(cause(seen[0]!), responseFinished);

      let started = new Promise<void>((r) => {
        arrived = r;
      });
      const req = http.get(`${srv.url}/hang`, { agent: false });
      req.on('error', () => {});
      await started;
      req.destroy();
      await seen[1]!.done;
      assert.ok(cause(seen[1]!) instanceof ClientGoneError);
      assert.ok(isCanceled(seen[1]!.err));

      started = new Promise<void>((r) => {
        arrived = r;
      });
      const pending = get(`${srv.url}/hang`);
      await started;
      cancelRoot();
      assert.ok(isCanceled(seen[2]!.err));
      assert.equal((await pending).status, 503, 'a cancelled request is answered 503');
    } finally {
      cancelRoot();
      await srv.close();
    }
  });
});

describe('Values', () => {
  test('a well-formed x-request-id is kept and echoed, a malformed one replaced; traceparent validated and forwarded as a child', async () => {
    const upstream = await listen(http.createServer((req, res) => res.end(JSON.stringify(req.headers))));
    const srv = await listen(
      http.createServer(
        withContext(
          background(),
          async (req, res) => {
            const seen = await (await fetch(req.ctx, upstream.url)).json();
            res.end(
              JSON.stringify({
                id: req.ctx.value(requestIdKey),
                trace: req.ctx.value(traceparentKey) ?? null,
                seen,
              }),
            );
          },
          { timeoutMs: 2000 },
        ),
      ),
    );
    try {
      const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      const a = await get(`${srv.url}/`, { 'x-request-id': 'order-42', traceparent: tp });
      const out = JSON.parse(a.body);
      assert.equal(a.headers['x-request-id'], 'order-42');
      assert.equal(out.id, 'order-42');
      assert.equal(out.trace.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
      assert.equal(out.seen['x-request-id'], 'order-42');
      assert.match(out.seen.traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
      assert.notEqual(out.seen.traceparent, tp);
      const budget = Number(out.seen['x-request-timeout']);
      assert.ok(budget <= 2000 && budget > 1000, `fetch sent the remaining budget ${budget}`);
      const b = await get(`${srv.url}/`, { 'x-request-id': 'has spaces' });
      assert.match(
        String(b.headers['x-request-id']),
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
    } finally {
      await srv.close();
      await upstream.close();
    }
  });
});

describe('withContext: handler errors are never lost', () => {
  test('default: 500 and console.error; the request end (deadline, cancel) stays quiet; onError may answer; handler-error is published', async () => {
    const events: HandlerErrorEvent[] = [];
    const onEvent = (m: unknown) => events.push(m as HandlerErrorEvent);
    diagnostics_channel.subscribe('leash:http:handler-error', onEvent);
    try {
      const srv = await listen(
        http.createServer(
          withContext(
            background(),
            async (req) => {
              if (req.url === '/fails') throw new Error('the database is down');
              await sleep(req.ctx, 5000);
            },
            { timeoutMs: 50 },
          ),
        ),
      );
      const { value, printed } = await quietly(async () => [
        await get(`${srv.url}/fails`),
        await get(`${srv.url}/slow`),
      ]);
      await srv.close();
      assert.deepEqual(
        value.map((a) => a.status),
        [500, 504],
      );
      assert.equal(printed.length, 1, 'only the real failure is printed');
      assert.match(String(printed[0]![0]), /GET \/fails/);
      assert.equal(events.length, 2);
      assert.ok(events.every((e) => Object.isFrozen(e)));
      assert.deepEqual(
        events.map((e) => e.status),
        [500, 504],
      );
      assert.ok(isDeadlineExceeded(events[1]!.error));

      const withOnError = await listen(
        http.createServer(
          withContext(
            background(),
            () => {
              throw new Error('teapot');
            },
            {
              onError: (_err, _req, res) => {
                res.statusCode = 418;
                res.end();
              },
            },
          ),
        ),
      );
      const r = await quietly(() => get(`${withOnError.url}/`));
      await withOnError.close();
      assert.equal(r.value.status, 418);
      assert.deepEqual(r.printed, []);
    } finally {
      diagnostics_channel.unsubscribe('leash:http:handler-error', onEvent);
    }
  });
});

describe('frameworks', () => {
  test('Express: contextOf(req), and the docs error handler answers 504/503 without printing anything', async () => {
    const [root, cancelRoot] = withCancel(background());
    const app = express();
    app.use(expressContext(root, { timeoutMs: 100 }));
    app.get('/fast', (req, res) => {
      res.send(String(contextOf(req) === req.ctx));
    });
    app.get('/slow', async (req, res) => {
      await sleep(contextOf(req), 1_000);
      res.send('done');
    });
    app.use((err: unknown, _req: express.Request, res: express.Response, next: express.NextFunction) => {
      if (isCanceled(err) || isDeadlineExceeded(err)) {
        if (!res.headersSent) res.status(isDeadlineExceeded(err) ? 504 : 503).end();
        return;
      }
      next(err);
    });
    const srv = await listen(http.createServer(app));
    try {
      const { value, printed } = await quietly(async () => {
        const fast = await get(`${srv.url}/fast`);
        const slow = await get(`${srv.url}/slow`);
        const pending = get(`${srv.url}/slow`, { 'x-request-timeout': '5000' });
        await sleep(background(), 30);
        cancelRoot();
        return [fast, slow, await pending];
      });
      assert.deepEqual(
        value.map((a) => a.status),
        [200, 504, 503],
      );
      assert.equal(value[0]!.body, 'true');
      assert.deepEqual(printed, []);
    } finally {
      cancelRoot();
      await srv.close();
    }
  });

  test('Koa: a cancelled request answers 503, a deadline 504, and Koa writes nothing on ctx.err', async () => {
    const [root, cancelRoot] = withCancel(background());
    const errs: unknown[] = [];
    const app = new Koa();
    app.silent = true;
    app.use(koaContext(root, { timeoutMs: 100 }));
    app.use(async (kctx) => {
      const ctx = contextOf(kctx);
      try {
        await sleep(ctx, 1_000);
      } catch (err) {
        errs.push(ctx.err);
        throw err;
      }
      kctx.body = 'done';
    });
    const srv = await listen(http.createServer(app.callback()));
    try {
      const slow = await get(`${srv.url}/`);
      const pending = get(`${srv.url}/`, { 'x-request-timeout': '5000' });
      await sleep(background(), 30);
      cancelRoot();
      const cancelled = await pending;
      assert.deepEqual([slow.status, cancelled.status], [504, 503]);
      await sleep(background(), 20);
      for (const e of errs) {
        for (const p of ['status', 'expose', 'headerSent'])
          assert.equal(Object.hasOwn(e as object, p), false, p);
      }
      const [fresh, cancel] = withTimeout(background(), 0);
      await fresh.done;
      cancel();
      assert.equal(Object.hasOwn(fresh.err as object, 'status'), false);
    } finally {
      cancelRoot();
      await srv.close();
    }
  });

  test('Fastify: the plugin applies to the whole instance; contextOf(request); 504 at the deadline', async () => {
    const app = Fastify();
    await app.register(fastifyContext(background(), { timeoutMs: 100 }));
    app.get('/slow', async (request) => {
      await sleep(contextOf(request), 1_000);
      return 'done';
    });
    app.get('/fast', async (request) => String(remaining(contextOf(request)) <= 100));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      assert.equal((await get(`${url}/fast`)).body, 'true');
      assert.equal((await get(`${url}/slow`)).status, 504);
    } finally {
      await app.close();
    }
  });
});

describe('options and currentContext()', () => {
  test('an unknown option fails with did-you-mean and the public call; null means no options', async () => {
    assert.throws(() => expressContext(background(), { timeout: 100 } as never), {
      name: 'TypeError',
      code: 'LEASH_ERR_INVALID_ARG',
      message: /^expressContext\(root, opts\): unknown option "timeout"; did you mean "timeoutMs"\?/,
    });
    await expectInvalid(() => koaContext(background(), { timeoutMs: '5' } as never), 'a string timeout');
    await expectInvalid(() => serve(background(), {} as never), 'not a server');
    assert.equal(typeof withContext(background(), () => {}, null), 'function');
  });

  test('asyncLocalStorage is off by default; on, currentContext() is the request context', async () => {
    for (const als of [undefined, true]) {
      const srv = await listen(
        http.createServer(
          withContext(
            background(),
            async (req, res) => {
              await sleep(req.ctx, 1);
              res.end(String(currentContext() === req.ctx));
            },
            als === undefined ? {} : { asyncLocalStorage: als },
          ),
        ),
      );
      try {
        assert.equal((await get(`${srv.url}/`)).body, String(als === true));
      } finally {
        await srv.close();
      }
    }
  });
});

describe('serve(ctx, server, opts?)', () => {
  test('drains: Connection: close while draining, 503 for a request still running at the drain deadline, resolves within drainMs + 250 ms', async () => {
    const [stopCtx, stop] = withCancel(background());
    let shutdownCause: unknown;
    const server = http.createServer(
      withContext(background(), async (req, res) => {
        if (req.url === '/stuck') {
          await sleep(req.ctx, 30_000).catch((e) => {
            shutdownCause = cause(req.ctx);
            throw e;
          });
        }
        await sleep(background(), 100);
        res.end('drained');
      }),
    );
    const done = serve(stopCtx, server, { drainMs: 300 });
    const srv = await listen(server);
    const stuck = get(`${srv.url}/stuck`);
    const inflight = get(`${srv.url}/work`);
    await sleep(background(), 30);
    const t0 = performance.now();
    stop();
    const drained = await inflight;
    assert.equal(drained.body, 'drained');
    assert.equal(drained.headers.connection, 'close');
    assert.equal((await stuck).status, 503);
    const report = await done;
    const took = performance.now() - t0;
    assert.deepEqual(report, { inFlight: 2, canceled: 1, refused: 0 });
    assert.ok(shutdownCause instanceof ServerShutdownError);
    assert.ok(took >= 290 && took < 300 + 250 + 500, `serve() resolved after ${took.toFixed(0)} ms`);
    await srv.close();
  });
});

describe('Diagnostics channels', () => {
  test('request-start and request-end publish frozen plain objects of the documented shape', async () => {
    const got: (RequestStartEvent | RequestEndEvent)[] = [];
    const on = (m: unknown) => got.push(m as RequestStartEvent);
    diagnostics_channel.subscribe('leash:http:request-start', on);
    diagnostics_channel.subscribe('leash:http:request-end', on);
    try {
      const srv = await listen(http.createServer(withContext(background(), (_req, res) => res.end())));
      await get(`${srv.url}/`);
      await srv.close();
      for (let i = 0; i < 50 && got.length < 2; i++) await sleep(background(), 10);
      assert.deepEqual(
        got.map((m) => Object.keys(m).sort().join()),
        ['ctx,req,res', 'cause,ctx,req,res'],
      );
      assert.ok(got.every((m) => Object.isFrozen(m) && Object.getPrototypeOf(m) === Object.prototype));
      assert.equal((got[1] as RequestEndEvent).cause, responseFinished);
    } finally {
      diagnostics_channel.unsubscribe('leash:http:request-start', on);
      diagnostics_channel.unsubscribe('leash:http:request-end', on);
    }
  });
});
