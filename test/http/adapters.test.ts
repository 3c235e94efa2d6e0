// Integration tests for the four leashjs/http server adapters, on real servers on 127.0.0.1.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Context } from '../../src/context/index.js';
import {
  afterFunc,
  background,
  cause,
  isDeadlineExceeded,
  remaining,
  sleep,
  withCancel,
} from '../../src/context/index.js';
import type { ShutdownReport } from '../../src/http/index.js';
import {
  ClientGoneError,
  fetch,
  ResponseFinishedError,
  requestIdKey,
  ServerShutdownError,
  serve,
  traceparentKey,
} from '../../src/http/index.js';
import type { IgnoreRule } from '../../src/leak/index.js';
import { snapshot, verifyNone } from '../../src/leak/index.js';
import type { Route, Upstream } from './apps.js';
import { adapterKinds, get, startApp, startUpstream, within } from './apps.js';

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const incomingTrace = `00-${traceId}-00f067aa0ba902b7-01`;

function activeCounts(): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
}

/** nothingLeft polls until no more sockets, servers or timers are alive than at baseline. */
async function nothingLeft(baseline: Map<string, number>): Promise<void> {
  let extra: string[] = [];
  for (let i = 0; i < 100; i++) {
    const now = activeCounts();
    extra = [];
    for (const [k, n] of now) {
      if (k === 'TTYWrap' || k === 'PipeWrap' || k === 'FSReqCallback') continue;
      if (n > (baseline.get(k) ?? 0)) extra.push(`${k}: ${n} (baseline ${baseline.get(k) ?? 0})`);
    }
    if (extra.length === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`still alive after the test: ${extra.join(', ')}`);
}

// After an aborted fetch, undici (fetch's pool) opens one new connection to the upstream and keeps it
// idle for its keepAliveTimeout (4 s): its client end is on leashjs/leak's built-in list, its server end
// is in our upstream and ends when undici closes it, so the disconnect check waits up to 8 s.
//
// Last-resort ignore rules, one per framework, for the one listener each framework object adds to
// itself when built (Koa's 'error' in app.callback(), avvio's 'start' on Fastify's Boot): after the
// client-disconnect scenario they stay reachable past the check although nothing of ours holds them
// (a heap snapshot shows only the tracker's ephemeron entry; see the report). Narrow: the rule
// matches only work whose first frame outside Node is that framework function.
const frameworkSelfListeners: Record<string, IgnoreRule[] | undefined> = {
  koa: [{ topFrame: /^Application\.callback \(.*node_modules\/koa\// }],
  fastify: [{ topFrame: /^fastify \(.*node_modules\/fastify\/fastify\.js/ }],
};

for (const kind of adapterKinds) {
  describe(`${kind} adapter`, () => {
    let baseline: Map<string, number>;
    let upstream: Upstream;
    before(async () => {
      baseline = activeCounts();
      upstream = await startUpstream();
    });
    after(async () => {
      await upstream.close();
      await nothingLeft(baseline);
    });

    test('a client that disconnects cancels the request context at once and the upstream sees its socket close', async () => {
      const base = snapshot();
      // The scenario runs in its own function so that, as after a test body returns, its servers,
      // apps, agents and requests are unreachable when verifyNone looks for what is still alive.
      await (async () => {
        let observed: ((v: { at: number; cause: unknown; err: unknown }) => void) | undefined;
        const cancelled = new Promise<{ at: number; cause: unknown; err: unknown }>((r) => {
          observed = r;
        });
        const route: Route = async (ctx) => {
          afterFunc(ctx, () => observed?.({ at: performance.now(), cause: cause(ctx), err: ctx.err }));
          await fetch(ctx, `${upstream.url}/hang`);
          return { status: 200, body: 'unreachable' };
        };
        const app = await startApp(kind, background(), route);
        try {
          const arrived = upstream.arrived();
          const req = http.get(`${app.url}/work`, { agent: false });
          req.on('error', () => {});
          const up = await within(arrived, 5000, 'the upstream request');
          const t0 = performance.now();
          req.destroy();
          const seen = await within(cancelled, 2000, 'the request context to end');
          // "At once": on the socket's close event. The bound is wide for a loaded machine (issue 10
          // saw < 50 ms flake); a context left to end with the response would take seconds.
          // "At once": on the socket's close event. Wide bound for a loaded machine (issue 10 saw a
          // 50 ms bound flake); a context left to end with its response would take seconds here.
          assert.ok(
            seen.at - t0 < 500,
            `request context ended ${(seen.at - t0).toFixed(1)} ms after the client left`,
          );
          assert.ok(seen.cause instanceof ClientGoneError, `cause was ${String(seen.cause)}`);
          assert.equal((seen.cause as ClientGoneError).code, 'LEASH_ERR_CLIENT_GONE');
          assert.equal((seen.err as Error).name, 'AbortError');
          const closedAt = await within(up.closed, 2000, 'the upstream socket to close');
          assert.ok(closedAt - t0 < 1000);
        } finally {
          await app.close();
        }
      })();
      await verifyNone({ baseline: base, timeoutMs: 8000, ignore: frameworkSelfListeners[kind] });
    });

    test('currentContext() is the request context in handlers of requests with a body', async () => {
      const app = await startApp(kind, background(), async (ctx) => {
        await new Promise((r) => setImmediate(r));
        return { status: 200, body: String(ctx.value(requestIdKey)) };
      });
      try {
        const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = http.request(
            `${app.url}/post`,
            {
              method: 'POST',
              agent: false,
              headers: { 'content-type': 'text/plain', 'x-request-id': 'with-body' },
            },
            (r) => {
              let body = '';
              r.setEncoding('utf8');
              r.on('data', (c: string) => {
                body += c;
              });
              r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
            },
          );
          req.on('error', reject);
          req.end('a body that the framework parses asynchronously');
        });
        // startApp's route wrapper checks currentContext() === ctx before and after the route and
        // throws (a 500) if not.
        assert.equal(res.status, 200);
        assert.equal(res.body, 'with-body');
      } finally {
        await app.close();
      }
    });

    test('the request context ends with responseFinished once the response is sent', async () => {
      let reqCtx: Context | undefined;
      const app = await startApp(kind, background(), async (ctx) => {
        reqCtx = ctx;
        return { status: 200, body: 'ok' };
      });
      try {
        const res = await get(`${app.url}/`);
        assert.equal(res.status, 200);
        await within(reqCtx!.done, 2000, 'the request context to end');
        assert.ok(cause(reqCtx!) instanceof ResponseFinishedError);
      } finally {
        await app.close();
      }
    });

    test('deadline header travels across two hops, shrinking, capped by maxTimeoutMs; bad values are ignored', async () => {
      const hop2 = await startApp(kind, background(), async (ctx, _url, req) => {
        return {
          status: 200,
          body: JSON.stringify({
            header: req.headers['x-request-timeout'] ?? null,
            remaining: remaining(ctx) === Number.POSITIVE_INFINITY ? null : remaining(ctx),
          }),
        };
      });
      const hop1 = await startApp(
        kind,
        background(),
        async (ctx) => {
          await sleep(ctx, 30);
          const r = await fetch(ctx, `${hop2.url}/`);
          return { status: 200, body: await r.text() };
        },
        { maxTimeoutMs: 3000 },
      );
      try {
        const a = JSON.parse((await get(`${hop1.url}/`, { 'x-request-timeout': '2000' })).body);
        assert.ok(Number(a.header) <= 2000 - 25 && Number(a.header) > 500, `hop2 header ${a.header}`);
        assert.ok(a.remaining <= Number(a.header) && a.remaining > 400, `hop2 remaining ${a.remaining}`);

        const b = JSON.parse((await get(`${hop1.url}/`, { 'x-request-timeout': '600000' })).body);
        assert.ok(Number(b.header) <= 3000 && Number(b.header) > 1500, `capped header ${b.header}`);

        for (const bad of ['abc', '-5', '1.5', '10s', '']) {
          const c = JSON.parse((await get(`${hop1.url}/`, { 'x-request-timeout': bad })).body);
          // Ignored: the server's own cap (3000) applies, never the bad value.
          assert.ok(
            Number(c.header) <= 3000 && Number(c.header) > 1500,
            `bad ${JSON.stringify(bad)} gave ${c.header}`,
          );
        }
      } finally {
        await hop1.close();
        await hop2.close();
      }
    });

    test('a request without any deadline sends none downstream', async () => {
      const app = await startApp(kind, background(), async (ctx) => {
        const r = await fetch(ctx, `${upstream.url}/echo`);
        return { status: 200, body: await r.text() };
      });
      try {
        const seen = JSON.parse((await get(`${app.url}/`, { 'x-request-timeout': 'nope' })).body);
        assert.equal(seen['x-request-timeout'], undefined);
      } finally {
        await app.close();
      }
    });

    test('request id and traceparent round-trip; malformed ones are not trusted', async () => {
      const app = await startApp(kind, background(), async (ctx) => {
        const r = await fetch(ctx, `${upstream.url}/echo`);
        const seen = await r.json();
        return {
          status: 200,
          body: JSON.stringify({
            seen,
            id: ctx.value(requestIdKey),
            trace: ctx.value(traceparentKey) ?? null,
          }),
        };
      });
      try {
        const res = await get(`${app.url}/`, { 'x-request-id': 'order-42.a_b', traceparent: incomingTrace });
        assert.equal(res.headers['x-request-id'], 'order-42.a_b');
        const out = JSON.parse(res.body);
        assert.equal(out.id, 'order-42.a_b');
        assert.equal(out.seen['x-request-id'], 'order-42.a_b');
        assert.deepEqual(out.trace, { traceId, parentId: '00f067aa0ba902b7', flags: '01' });
        const sent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(out.seen.traceparent);
        assert.ok(sent, `forwarded traceparent ${out.seen.traceparent}`);
        assert.equal(sent[1], traceId);
        assert.notEqual(sent[2], '00f067aa0ba902b7', 'the outgoing call gets its own span id');

        const bad = await get(`${app.url}/`, {
          'x-request-id': 'has spaces and ; semicolons',
          traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
        });
        const badOut = JSON.parse(bad.body);
        assert.match(String(bad.headers['x-request-id']), /^[0-9a-f-]{36}$/);
        assert.equal(badOut.id, bad.headers['x-request-id']);
        assert.equal(badOut.trace, null);
        assert.equal(badOut.seen.traceparent, undefined);

        const none = await get(`${app.url}/`);
        assert.match(String(none.headers['x-request-id']), /^[0-9a-f-]{36}$/);
      } finally {
        await app.close();
      }
    });

    test('a deadline that passes before the handler answers gets 504, unless headers were sent', async () => {
      const app = await startApp(
        kind,
        background(),
        async (ctx, url, _req, res) => {
          if (url.pathname === '/streaming') {
            res.writeHead(200, { 'content-type': 'text/plain' });
            res.write('started\n');
            try {
              await sleep(ctx, 5000);
            } catch {
              res.end('stopped\n');
            }
            return undefined;
          }
          await sleep(ctx, 5000);
          return { status: 200, body: 'too late' };
        },
        { timeoutMs: 150 },
      );
      try {
        const t0 = performance.now();
        const res = await within(get(`${app.url}/slow`), 3000, 'the 504');
        assert.equal(res.status, 504);
        assert.ok(performance.now() - t0 < 2000);
        const viaHeader = await within(
          get(`${app.url}/slow`, { 'x-request-timeout': '50' }),
          3000,
          'the 504',
        );
        assert.equal(viaHeader.status, 504);
        const streaming = await within(get(`${app.url}/streaming`), 3000, 'the streamed response');
        assert.equal(streaming.status, 200);
        assert.equal(streaming.body, 'started\nstopped\n');
      } finally {
        await app.close();
      }
    });

    test('the timeout status is configurable', async () => {
      const app = await startApp(
        kind,
        background(),
        async (ctx) => {
          await sleep(ctx, 5000);
          return { status: 200, body: '' };
        },
        { timeoutMs: 50, timeoutStatus: 503 },
      );
      try {
        assert.equal((await within(get(`${app.url}/`), 3000, 'the reply')).status, 503);
      } finally {
        await app.close();
      }
    });

    test('graceful shutdown: idle keep-alive closes at once, in-flight finishes, slow is cancelled at the drain deadline', async () => {
      const base = snapshot();
      // The scenario runs in its own function so that, as after a test body returns, its servers,
      // apps, agents and requests are unreachable when verifyNone looks for what is still alive.
      await (async () => {
        const [stopCtx, stop] = withCancel(background());
        let slowCause: unknown;
        let slowCancelled: (() => void) | undefined;
        const slowDone = new Promise<void>((r) => {
          slowCancelled = r;
        });
        let inflightStarted: (() => void) | undefined;
        const started = new Promise<void>((r) => {
          inflightStarted = r;
        });
        let served: Promise<ShutdownReport> | undefined;
        const app = await startApp(
          kind,
          background(),
          async (ctx, url) => {
            if (url.pathname === '/quick') return { status: 200, body: 'quick' };
            if (url.pathname === '/inflight') {
              inflightStarted?.();
              await new Promise((r) => setTimeout(r, 150)); // ignores ctx, finishes within the drain
              return { status: 200, body: 'drained' };
            }
            try {
              await sleep(ctx, 30_000);
            } catch (err) {
              slowCause = cause(ctx);
              slowCancelled?.();
              throw err;
            }
            return { status: 200, body: 'never' };
          },
          {},
          (server) => {
            served = serve(stopCtx, server, { drainMs: 400 });
          },
        );
        try {
          const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
          assert.equal((await get(`${app.url}/quick`, {}, agent)).status, 200);
          const idleSocket = Object.values(agent.freeSockets).flat()[0];
          assert.ok(idleSocket, 'the keep-alive socket is idle in the agent');
          const idleClosed = new Promise<number>((r) => idleSocket.once('close', () => r(performance.now())));

          const slow = get(`${app.url}/slow`).catch((e: Error) => e);
          const inflight = get(`${app.url}/inflight`);
          await within(started, 3000, 'the in-flight request to start');
          await new Promise((r) => setTimeout(r, 20));
          const t0 = performance.now();
          stop();
          const closedAt = await within(idleClosed, 1000, 'the idle keep-alive socket to close');
          assert.ok(closedAt - t0 < 300, 'idle sockets are closed at once, not at the drain deadline');

          const refused = await get(`${app.url}/quick`).catch((e: NodeJS.ErrnoException) => e);
          assert.ok(
            refused instanceof Error && refused.code === 'ECONNREFUSED',
            'no new connections after shutdown starts',
          );

          const drained = await within(inflight, 3000, 'the in-flight request');
          assert.equal(drained.status, 200);
          assert.equal(drained.body, 'drained');

          await within(slowDone, 3000, 'the slow request to be cancelled');
          assert.ok(slowCause instanceof ServerShutdownError, `slow request cause ${String(slowCause)}`);
          const report = await within(served!, 3000, 'serve() to resolve');
          const elapsed = performance.now() - t0;
          assert.ok(elapsed >= 350 && elapsed < 2500, `shutdown took ${elapsed.toFixed(0)} ms`);
          assert.deepEqual(report, { inFlight: 2, canceled: 1, refused: 0 });
          const slowResult = await slow;
          if (!(slowResult instanceof Error)) assert.ok(slowResult.status >= 500);
          assert.equal(app.server.listening, false);
          agent.destroy();
        } finally {
          stop();
          await app.close().catch(() => {});
        }
      })();
      await verifyNone({ baseline: base, timeoutMs: 3000 });
    });

    test('a deadline error from the handler is reported as the deadline, not a crash', async () => {
      const app = await startApp(
        kind,
        background(),
        async (ctx) => {
          try {
            await fetch(ctx, `${upstream.url}/hang`);
          } catch (err) {
            assert.ok(isDeadlineExceeded(err), `fetch rejected with ${String(err)}`);
            assert.equal(err, ctx.err);
            throw err;
          }
          return { status: 200, body: '' };
        },
        { timeoutMs: 100 },
      );
      try {
        assert.equal((await within(get(`${app.url}/`), 3000, 'the reply')).status, 504);
      } finally {
        await app.close();
      }
    });
  });
}
