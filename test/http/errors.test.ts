// How each adapter answers a request that ended with an error, and that no framework ever writes on
// leash's error objects (Koa writes `status`/`expose` onto what it catches).
import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import type { Context } from '../../src/context/index.js';
import {
  background,
  isCanceled,
  isDeadlineExceeded,
  sleep,
  withCancel,
  withTimeout,
} from '../../src/context/index.js';
import type { HandlerErrorEvent } from '../../src/http/index.js';
import { withContext } from '../../src/http/index.js';
import { adapterKinds, get, startApp, within } from './apps.js';

const frameworkProps = ['status', 'statusCode', 'expose', 'headerSent'];

function assertUntouched(err: unknown, what: string): void {
  assert.ok(err instanceof Error, `${what} is an Error`);
  for (const p of frameworkProps) {
    assert.equal(Object.hasOwn(err, p), false, `${what} carries a "${p}" property written by a framework`);
  }
}

/** Fresh contexts' errors: if a framework wrote on a shared instance, it shows here. */
async function assertFreshErrorsClean(): Promise<void> {
  const [c, cancel] = withCancel(background());
  cancel();
  assertUntouched(c.err, 'a fresh cancelled context err');
  const [d, cancelD] = withTimeout(background(), 0);
  await d.done;
  assertUntouched(d.err, 'a fresh timed-out context err');
  cancelD();
}

for (const kind of adapterKinds) {
  describe(`${kind}: errors at the adapter boundary`, () => {
    test('a timed-out request answers 504 and leaves no framework property on ctx.err', async () => {
      let seen: unknown;
      const app = await startApp(
        kind,
        background(),
        async (ctx) => {
          try {
            await sleep(ctx, 5000);
          } catch (err) {
            seen = ctx.err;
            throw err;
          }
          return { status: 200, body: 'late' };
        },
        { timeoutMs: 50 },
      );
      try {
        const res = await within(get(`${app.url}/`), 5000, 'the answer');
        assert.equal(res.status, 504);
        await new Promise((r) => setTimeout(r, 50)); // let the framework's error path finish
        assert.ok(isDeadlineExceeded(seen));
        assertUntouched(seen, 'the request ctx.err');
        await assertFreshErrorsClean();
      } finally {
        await app.close();
      }
    });

    test('a cancelled request answers 503 and leaves no framework property on ctx.err', async () => {
      const [root, cancelRoot] = withCancel(background());
      let seen: unknown;
      let arrived: (() => void) | undefined;
      const started = new Promise<void>((r) => {
        arrived = r;
      });
      const app = await startApp(kind, root, async (ctx: Context) => {
        arrived?.();
        try {
          await sleep(ctx, 5000);
        } catch (err) {
          seen = ctx.err;
          throw err;
        }
        return { status: 200, body: 'late' };
      });
      try {
        const pending = get(`${app.url}/`);
        await within(started, 5000, 'the request to start');
        cancelRoot();
        const res = await within(pending, 5000, 'the answer');
        assert.equal(res.status, 503);
        await new Promise((r) => setTimeout(r, 50));
        assert.ok(isCanceled(seen));
        assertUntouched(seen, 'the request ctx.err');
        await assertFreshErrorsClean();
      } finally {
        cancelRoot();
        await app.close();
      }
    });
  });
}

async function serveOnce(
  listener: http.RequestListener,
  path = '/boom',
): Promise<{ status: number; body: string }> {
  const server = http.createServer(listener);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    return await within(
      get(`http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`),
      5000,
      'the answer',
    );
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

/** captureConsoleError replaces console.error for the duration of fn and returns what was printed. */
async function captureConsoleError(fn: () => Promise<void>): Promise<unknown[][]> {
  const printed: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => {
    printed.push(args);
  };
  try {
    await fn();
  } finally {
    console.error = original;
  }
  return printed;
}

describe('withContext: a failing handler is never silent', () => {
  test('a rejection answers 500, is published on leash:http:handler-error as a frozen payload, and is logged by default', async () => {
    const boom = new Error('boom');
    const events: HandlerErrorEvent[] = [];
    const onEvent = (m: unknown) => events.push(m as HandlerErrorEvent);
    diagnostics_channel.subscribe('leash:http:handler-error', onEvent);
    try {
      let res: { status: number } | undefined;
      const printed = await captureConsoleError(async () => {
        res = await serveOnce(
          withContext(background(), async () => {
            await null;
            throw boom;
          }),
        );
      });
      assert.equal(res?.status, 500);
      assert.equal(printed.length, 1, 'console.error called once');
      assert.match(String(printed[0]![0]), /GET \/boom/);
      assert.equal(printed[0]![1], boom);
      assert.equal(events.length, 1);
      const e = events[0]!;
      assert.ok(Object.isFrozen(e));
      assert.equal(e.error, boom);
      assert.equal(e.status, 500);
      assert.equal(e.req.url, '/boom');
      assert.ok(e.ctx.err === undefined || isCanceled(e.ctx.err));
    } finally {
      diagnostics_channel.unsubscribe('leash:http:handler-error', onEvent);
    }
  });

  test('a synchronous throw is handled the same way', async () => {
    const printed = await captureConsoleError(async () => {
      const res = await serveOnce(
        withContext(background(), () => {
          throw new Error('sync boom');
        }),
      );
      assert.equal(res.status, 500);
    });
    assert.equal(printed.length, 1);
  });

  test('onError replaces the default log and may answer itself', async () => {
    const got: unknown[] = [];
    const events: HandlerErrorEvent[] = [];
    const onEvent = (m: unknown) => events.push(m as HandlerErrorEvent);
    diagnostics_channel.subscribe('leash:http:handler-error', onEvent);
    try {
      const printed = await captureConsoleError(async () => {
        const res = await serveOnce(
          withContext(
            background(),
            async () => {
              throw new Error('teapot');
            },
            {
              onError: (err, req, res) => {
                got.push(err, req.ctx);
                res.statusCode = 418;
                res.end('short and stout');
              },
            },
          ),
        );
        assert.equal(res.status, 418);
        assert.equal(res.body, 'short and stout');
      });
      assert.equal(printed.length, 0);
      assert.equal((got[0] as Error).message, 'teapot');
      assert.equal(events[0]?.status, 418);
    } finally {
      diagnostics_channel.unsubscribe('leash:http:handler-error', onEvent);
    }
  });

  test("a request's own deadline is answered 504 and not logged", async () => {
    const printed = await captureConsoleError(async () => {
      const res = await serveOnce(
        withContext(
          background(),
          async (req) => {
            await sleep(req.ctx, 5000);
          },
          { timeoutMs: 30 },
        ),
      );
      assert.equal(res.status, 504);
      await new Promise((r) => setTimeout(r, 30));
    });
    assert.deepEqual(printed, []);
  });
});

describe("fastify's own error handler", () => {
  test('a cancelled request answers 503 and a timed-out one 504, without an error handler of the app', async () => {
    const Fastify = (await import('fastify')).default;
    const { contextOf, fastifyContext } = await import('../../src/http/index.js');
    const [root, cancelRoot] = withCancel(background());
    let arrived: (() => void) | undefined;
    const app = Fastify({ logger: false });
    await app.register(fastifyContext(root, { timeoutStatus: 504 }));
    app.get('/', async (request) => {
      arrived?.();
      await sleep(contextOf(request), 5000);
      return 'late';
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      const timedOut = await within(get(`${url}/`, { 'x-request-timeout': '50' }), 5000, 'the 504');
      assert.equal(timedOut.status, 504);
      const started = new Promise<void>((r) => {
        arrived = r;
      });
      const pending = get(`${url}/`);
      await within(started, 5000, 'the request to start');
      cancelRoot();
      assert.equal((await within(pending, 5000, 'the 503')).status, 503);
      await assertFreshErrorsClean();
    } finally {
      cancelRoot();
      await app.close();
    }
  });
});
