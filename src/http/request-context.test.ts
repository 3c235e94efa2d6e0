import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { background, cause, remaining, withCancel, withTimeout } from '../context/index.js';
import { responseFinished } from './errors.js';
import { requestContext } from './request-context.js';
import { requestIdKey } from './request-id.js';

async function once(
  handler: http.RequestListener,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    return await new Promise((resolve, reject) => {
      http
        .get(
          `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
          { headers, agent: false },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
          },
        )
        .on('error', reject);
    });
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

test('requestContext never extends the root deadline', async () => {
  const [root, cancel] = withTimeout(background(), 300);
  let budget = 0;
  await once(
    (req, res) => {
      budget = remaining(requestContext(root, req, res, { timeoutMs: 60_000 }));
      res.end();
    },
    { 'x-request-timeout': '60000' },
  );
  cancel();
  assert.ok(budget <= 300 && budget > 0, `budget ${budget}`);
});

test('requestContext ends with the root, and with responseFinished after the response', async () => {
  const [root, cancelRoot] = withCancel(background());
  let ctx: ReturnType<typeof requestContext> | undefined;
  const res = await once((req, res) => {
    ctx = requestContext(root, req, res);
    assert.equal(ctx.err, undefined);
    res.end();
  });
  assert.equal(res.status, 200);
  await ctx!.done;
  assert.equal(cause(ctx!), responseFinished);
  cancelRoot();

  const [root2, cancelRoot2] = withCancel(background());
  await once((req, res) => {
    const c = requestContext(root2, req, res);
    cancelRoot2();
    assert.ok(c.err, 'a cancelled root cancels the request context synchronously');
    res.end();
  });
});

test('requestContext echoes the request id it settled on', async () => {
  let id: string | undefined;
  const res = await once(
    (req, res) => {
      id = requestContext(background(), req, res).value(requestIdKey);
      res.end();
    },
    { 'x-request-id': 'abc' },
  );
  assert.equal(id, 'abc');
  assert.equal(res.headers['x-request-id'], 'abc');
});

test('adapters reject bad arguments with LEASH_ERR_INVALID_ARG', async () => {
  const { withContext, expressContext, koaContext, fastifyContext, serve } = await import('./index.js');
  const invalid = { code: 'LEASH_ERR_INVALID_ARG' };
  assert.throws(() => withContext(undefined as never, () => {}), invalid);
  assert.throws(() => withContext(background(), 'x' as never), invalid);
  assert.throws(() => expressContext({} as never), invalid);
  assert.throws(() => koaContext(background(), { timeoutMs: -1 }), invalid);
  assert.throws(() => fastifyContext(background(), { timeoutStatus: 42 }), invalid);
  assert.throws(() => serve(background(), {} as never), invalid);
  assert.throws(() => serve(background(), http.createServer(), { drainMs: -5 }), invalid);
});

test('asyncLocalStorage: false keeps req.ctx and leaves currentContext() undefined', async () => {
  const { withContext, currentContext } = await import('./index.js');
  let seen: unknown = 'unset';
  let ctxOk = false;
  await once(
    withContext(
      background(),
      async (req, res) => {
        await new Promise((r) => setImmediate(r));
        seen = currentContext();
        ctxOk = req.ctx.value(requestIdKey) === 'no-als';
        res.end();
      },
      { asyncLocalStorage: false },
    ),
    { 'x-request-id': 'no-als' },
  );
  assert.equal(seen, undefined);
  assert.ok(ctxOk);
});

test('request start and end are published on diagnostics channels with the cause', async () => {
  const { subscribe, unsubscribe } = await import('node:diagnostics_channel');
  const seen: string[] = [];
  const onStart = (m: unknown) =>
    seen.push(`start ${(m as { ctx: { value(k: unknown): unknown } }).ctx.value(requestIdKey)}`);
  const onEnd = (m: unknown) => seen.push(`end ${(m as { cause: unknown }).cause === responseFinished}`);
  subscribe('leash:http:request-start', onStart);
  subscribe('leash:http:request-end', onEnd);
  try {
    await once(
      (req, res) => {
        requestContext(background(), req, res);
        res.end();
      },
      { 'x-request-id': 'dc-1' },
    );
    for (let i = 0; i < 50 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(seen, ['start dc-1', 'end true']);
  } finally {
    unsubscribe('leash:http:request-start', onStart);
    unsubscribe('leash:http:request-end', onEnd);
  }
});

test('the request deadline: a valid header only shortens timeoutMs unless maxTimeoutMs allows more; maxTimeoutMs and the root deadline cap it (property)', async () => {
  const fc = (await import('fast-check')).default;
  const { EventEmitter } = await import('node:events');
  const { withDeadline } = await import('../context/index.js');
  class Res extends EventEmitter {
    headersSent = false;
    writableFinished = true;
    writableEnded = false;
    statusCode = 200;
    setHeader(): void {}
    end(): void {
      this.writableEnded = true;
    }
  }
  const header = fc.oneof(
    fc.constant(undefined),
    fc.integer({ min: 0, max: 100_000 }).map(String),
    fc.constantFrom('-1', '1.5', 'abc', '', '10s', '999999999999999'),
  );
  const ms = fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined });
  fc.assert(
    fc.property(header, ms, ms, ms, (h, timeoutMs, maxTimeoutMs, rootMs) => {
      const now = Date.now();
      const [root, cancelRoot] =
        rootMs === undefined ? [background(), () => {}] : withDeadline(background(), now + rootMs);
      const res = new Res();
      const req = {
        headers: h === undefined ? {} : { 'x-request-timeout': h },
      } as unknown as http.IncomingMessage;
      const opts = {
        ...(timeoutMs !== undefined && { timeoutMs }),
        ...(maxTimeoutMs !== undefined && { maxTimeoutMs }),
      };
      const ctx = requestContext(root, req, res as unknown as http.ServerResponse, opts);
      const after = Date.now();
      const valid = h !== undefined && /^\d+$/.test(h) ? Number(h) : undefined;
      // Written out from the docs: the header may shorten the server's timeoutMs; only maxTimeoutMs
      // lets it ask for more, and maxTimeoutMs caps everything.
      let expected: number | undefined;
      if (maxTimeoutMs !== undefined) expected = Math.min(valid ?? timeoutMs ?? maxTimeoutMs, maxTimeoutMs);
      else if (valid !== undefined && timeoutMs !== undefined) expected = Math.min(valid, timeoutMs);
      else expected = valid ?? timeoutMs;
      const bounds = [expected, rootMs].filter((x): x is number => x !== undefined);
      try {
        if (bounds.length === 0) return ctx.deadline === undefined;
        // ctx.deadline is derived from the monotonic deadline when read: allow the two clocks' rounding.
        const lo = now + Math.min(...bounds) - 2;
        const hi = after + Math.min(...bounds) + 2;
        return ctx.deadline !== undefined && ctx.deadline >= lo && ctx.deadline <= hi;
      } finally {
        res.emit('close');
        cancelRoot();
      }
    }),
    { numRuns: 500 },
  );
});

test('a client cannot lengthen the server deadline: timeoutMs 1000 with x-request-timeout 999999999999999 stays 1000', async () => {
  let budget = 0;
  let deadline: number | undefined;
  await once(
    (req, res) => {
      const ctx = requestContext(background(), req, res, { timeoutMs: 1000 });
      budget = remaining(ctx);
      deadline = ctx.deadline;
      res.end();
    },
    { 'x-request-timeout': '999999999999999' },
  );
  assert.ok(budget <= 1000 && budget > 500, `budget ${budget}`);
  assert.ok(deadline !== undefined && deadline <= Date.now() + 1000, `deadline ${deadline}`);
  // It may still shorten it.
  await once(
    (req, res) => {
      budget = remaining(requestContext(background(), req, res, { timeoutMs: 1000 }));
      res.end();
    },
    { 'x-request-timeout': '100' },
  );
  assert.ok(budget <= 100 && budget > 0, `shortened budget ${budget}`);
  // maxTimeoutMs lets the client ask for more, up to the cap.
  await once(
    (req, res) => {
      budget = remaining(requestContext(background(), req, res, { timeoutMs: 1000, maxTimeoutMs: 5000 }));
      res.end();
    },
    { 'x-request-timeout': '999999999999999' },
  );
  assert.ok(budget <= 5000 && budget > 4000, `capped budget ${budget}`);
});

test('requestTimeout never exceeds timeoutMs without maxTimeoutMs, nor maxTimeoutMs, and a header never lengthens past the server (property)', async () => {
  const fc = (await import('fast-check')).default;
  const { requestTimeout } = await import('./request-context.js');
  const ms = fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: undefined });
  fc.assert(
    fc.property(ms, ms, ms, (header, timeoutMs, maxTimeoutMs) => {
      const t = requestTimeout(header, timeoutMs, maxTimeoutMs);
      if (maxTimeoutMs !== undefined) {
        if (t === undefined || t > maxTimeoutMs) return false;
      } else if (timeoutMs !== undefined && (t === undefined || t > timeoutMs)) return false;
      // The header, when given, is never exceeded either: the deadline is at most what was asked.
      if (header !== undefined && (t === undefined || t > header)) return false;
      // Without a header the server's own setting applies (capped).
      if (header === undefined) {
        const own =
          maxTimeoutMs === undefined ? timeoutMs : Math.min(timeoutMs ?? maxTimeoutMs, maxTimeoutMs);
        return t === own;
      }
      return true;
    }),
    { numRuns: 2000 },
  );
});

test('diagnostics payloads are frozen plain objects: a subscriber cannot change them', async () => {
  const { subscribe, unsubscribe } = await import('node:diagnostics_channel');
  const msgs: Record<string, unknown>[] = [];
  const onMsg = (m: unknown) => {
    const msg = m as Record<string, unknown>;
    msgs.push(msg);
    assert.throws(() => {
      msg.cause = 'tampered';
    }, TypeError);
  };
  subscribe('leash:http:request-start', onMsg);
  subscribe('leash:http:request-end', onMsg);
  try {
    await once((req, res) => {
      requestContext(background(), req, res);
      res.end();
    });
    for (let i = 0; i < 50 && msgs.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(msgs.length, 2);
    for (const m of msgs) {
      assert.ok(Object.isFrozen(m));
      assert.equal(Object.getPrototypeOf(m), Object.prototype);
    }
    assert.deepEqual(Object.keys(msgs[0]!).sort(), ['ctx', 'req', 'res']);
    assert.deepEqual(Object.keys(msgs[1]!).sort(), ['cause', 'ctx', 'req', 'res']);
    assert.equal(msgs[1]!.cause, responseFinished);
  } finally {
    unsubscribe('leash:http:request-start', onMsg);
    unsubscribe('leash:http:request-end', onMsg);
  }
});
