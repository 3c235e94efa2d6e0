// Bad input to every public leashjs/http function: whatever is passed, the only errors are leash's
// own (code LEASH_ERR_*), with a message that names the public call; never a raw TypeError from deep
// inside, never a silent acceptance of an unknown option.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import fc from 'fast-check';
import { background } from '../../src/context/index.js';
import {
  contextOf,
  expressContext,
  fastifyContext,
  fetch,
  koaContext,
  parseRequestTimeout,
  parseTraceparent,
  requestContext,
  serve,
  withContext,
} from '../../src/http/index.js';

function leashOnly(fn: () => unknown, where?: RegExp): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string' || !code.startsWith('LEASH_ERR_')) {
      throw new Error(`not a leash error: ${String(err)}`, { cause: err });
    }
    if (where && !where.test((err as Error).message)) {
      throw new Error(`message does not name the call: ${(err as Error).message}`);
    }
    return true;
  }
}

const nullProto = (o: Record<string, unknown>) => Object.assign(Object.create(null), o);
const anyValue = fc.oneof(
  fc.anything(),
  fc.constantFrom(null, undefined, 0, -1, Number.NaN, Number.POSITIVE_INFINITY, '', '100', [], () => {}),
  fc.constant(new AbortController().signal),
  fc.constant(Object.create(null)),
);
// Options: anything, typos, wrong types, null-prototype objects.
const optionKeys = [
  'timeoutMs',
  'maxTimeoutMs',
  'timeoutStatus',
  'asyncLocalStorage',
  'timeout',
  'maxTimeout',
  'drainMs',
  'onError',
  'status',
];
const anyOptions = fc.oneof(
  anyValue,
  fc.dictionary(fc.constantFrom(...optionKeys), anyValue, { maxKeys: 3 }),
  fc.dictionary(fc.constantFrom(...optionKeys), anyValue, { maxKeys: 3 }).map(nullProto),
);
const ctxArg = fc.oneof(fc.constant(background()), anyValue);

test('adapters: any root and options give a working adapter or a LEASH_ERR_* naming the call (property)', () => {
  fc.assert(
    fc.property(ctxArg, anyOptions, (root, opts) => {
      leashOnly(() => expressContext(root as never, opts as never), /^expressContext\(/);
      leashOnly(() => koaContext(root as never, opts as never), /^koaContext\(/);
      leashOnly(() => fastifyContext(root as never, opts as never), /^fastifyContext\(/);
      return true;
    }),
    { numRuns: 1000 },
  );
});

test('withContext: any root, handler and options (property)', () => {
  fc.assert(
    fc.property(
      ctxArg,
      fc.oneof(
        fc.constant(() => {}),
        anyValue,
      ),
      anyOptions,
      (root, handler, opts) =>
        leashOnly(() => withContext(root as never, handler as never, opts as never), /^withContext\(/),
    ),
    { numRuns: 1000 },
  );
});

test('serve: any ctx, server and options (property)', () => {
  const server = http.createServer();
  fc.assert(
    fc.property(ctxArg, fc.oneof(fc.constant(server), anyValue), anyOptions, (ctx, srv, opts) =>
      leashOnly(() => {
        server.removeAllListeners('request');
        server.removeAllListeners('connection'); // each successful serve() adds one: no MaxListeners warning
        // A call that succeeds on background() waits forever for a shutdown that never comes: fine,
        // it holds nothing but a listener on an idle server.
        void serve(ctx as never, srv as never, opts as never);
      }, /^serve\(/),
    ),
    { numRuns: 500 },
  );
  server.removeAllListeners('request');
  server.removeAllListeners('connection');
});

test('requestContext and contextOf: any arguments (property)', () => {
  fc.assert(
    fc.property(ctxArg, anyValue, anyValue, anyOptions, (root, req, res, opts) =>
      leashOnly(
        () => requestContext(root as never, req as never, res as never, opts as never),
        /^requestContext\(/,
      ),
    ),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(anyValue, (req) => leashOnly(() => contextOf(req as never), /^contextOf\(/)),
    { numRuns: 500 },
  );
});

test('fetch: a bad ctx, input or init rejects with LEASH_ERR_INVALID_ARG and sends nothing (property)', async () => {
  const badInput = anyValue.filter((v) => typeof v !== 'string' && !(v instanceof URL));
  await fc.assert(
    fc.asyncProperty(ctxArg, badInput, anyValue, async (ctx, input, init) => {
      const err = await fetch(ctx as never, input as never, init as never).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err, 'rejected');
      assert.match(String((err as { code?: unknown }).code), /^LEASH_ERR_/, String(err));
      assert.match((err as Error).message, /^fetch\(/);
    }),
    { numRuns: 300 },
  );
});

test('the parsers never throw, whatever the header (property)', () => {
  fc.assert(
    fc.property(anyValue, (h) => {
      parseRequestTimeout(h as never);
      parseTraceparent(h as never);
      return true;
    }),
    { numRuns: 1000 },
  );
});

test('typos and null options: did you mean, the public call named; null and null-prototype options work', () => {
  const root = background();
  assert.throws(() => expressContext(root, { timeout: 100 } as never), {
    code: 'LEASH_ERR_INVALID_ARG',
    message: /^expressContext\(root, opts\): unknown option "timeout"; did you mean "timeoutMs"\?/,
  });
  assert.throws(() => withContext(root, () => {}, { maxTimeout: 5 } as never), {
    message: /^withContext\(.*did you mean "maxTimeoutMs"/,
  });
  assert.throws(() => serve(root, http.createServer(), { drain: 5 } as never), {
    message: /^serve\(.*did you mean "drainMs"/,
  });
  assert.throws(() => koaContext(root, 5 as never), {
    message: /^koaContext\(root, opts\): options must be an object/,
  });
  assert.throws(() => fastifyContext(root, { timeoutMs: '100' } as never), {
    message: /^fastifyContext\(root, opts\): opts\.timeoutMs must be .*got the string "100"/,
  });
  assert.throws(() => withContext(new AbortController().signal as never, () => {}), {
    message: /fromSignal/,
  });
  // null means no options, like undefined.
  assert.equal(typeof expressContext(root, null), 'function');
  assert.equal(typeof withContext(root, () => {}, null), 'function');
  assert.equal(typeof koaContext(root, null), 'function');
  assert.equal(typeof fastifyContext(root, null), 'function');
  const server = http.createServer();
  void serve(root, server, null);
  // A null-prototype options object is read like any other.
  assert.equal(typeof expressContext(root, nullProto({ timeoutMs: 5 })), 'function');
  assert.throws(() => expressContext(root, nullProto({ timeout: 5 })), {
    message: /did you mean "timeoutMs"/,
  });
  server.removeAllListeners('request');
});
