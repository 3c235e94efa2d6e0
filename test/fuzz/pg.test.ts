// Bad input to every public leashjs/pg function: whatever is passed, the call settles (no hang, no
// crash) and the only errors are leash's own (code LEASH_ERR_*, the message naming the public call)
// or, for a well-formed call, PostgreSQL's own answer (an error with a SQLSTATE and a severity).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
import { background, withCancel, withTimeout } from '../../src/context/index.js';
import { connect, query, sendCancelRequest, withClient } from '../../src/pg/index.js';
import { pgConfig, postgresUp, skipReason } from '../pg/postgres.js';

const up = await postgresUp();

function check(err: unknown, where: RegExp): void {
  const e = err as { code?: unknown; severity?: unknown; message?: unknown };
  if (typeof e?.code === 'string' && e.code.startsWith('LEASH_ERR_')) {
    if (e.code === 'LEASH_ERR_INVALID_ARG')
      assert.match(String(e.message), where, 'the message names the call');
    return;
  }
  if (typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.severity === 'string') return;
  throw new Error(`not a leash or PostgreSQL error: ${String(err)}`, { cause: err });
}

/** settles runs fn, fails on a hang (3 s) and on any error check() refuses. */
async function settles(fn: () => unknown, where: RegExp): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('hung for 3 s')), 3_000);
  });
  try {
    await Promise.race([Promise.resolve().then(fn), hang]);
  } catch (err) {
    if ((err as Error)?.message === 'hung for 3 s') throw err;
    check(err, where);
  } finally {
    clearTimeout(timer);
  }
}

const nullProto = (o: Record<string, unknown>) => Object.assign(Object.create(null), o);
const anyValue = fc.oneof(
  fc.anything(),
  fc.constantFrom(null, undefined, 0, -1, Number.NaN, Number.POSITIVE_INFINITY, '', 'SELECT 1', [], () => {}),
  fc.constant(new AbortController().signal),
  fc.constant(Object.create(null)),
);
const anyOptions = fc.oneof(
  anyValue,
  fc.dictionary(fc.constantFrom('cancelGraceMs', 'cancelGrace', 'timeout', 'graceMs'), anyValue, {
    maxKeys: 2,
  }),
  fc.dictionary(fc.constantFrom('cancelGraceMs', 'timeoutMs'), anyValue, { maxKeys: 2 }).map(nullProto),
  fc.record({ cancelGraceMs: fc.oneof(fc.double(), fc.integer(), anyValue) }),
);
const anyText = fc.oneof(
  anyValue,
  fc.constantFrom('SELECT 1', 'SELECT $1::text AS v', 'SELEC', '', 'SELECT 1; SELECT 2', '-- x'),
  fc.string(),
  fc.record({ text: fc.oneof(fc.constant('SELECT $1::text AS v'), anyValue) }),
);
const anyValues = fc.oneof(
  anyValue,
  fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null)), { maxLength: 2 }),
);

describe('leashjs/pg under hostile input', () => {
  let pool: pg.Pool;
  let client: pg.Client;
  before(async () => {
    if (!up) return;
    pool = new pg.Pool({ ...pgConfig, max: 2 });
    client = new pg.Client(pgConfig);
    await client.connect();
  });
  after(async () => {
    await pool?.end();
    await client?.end();
  });
  // A case with a cancelGraceMs near 0 may end with the client destroyed, as documented (the grace
  // period ran out before the server answered the cancel request): leash then discards it and every
  // later query on it rejects with ConnectionError. The next case gets a fresh client, so each runs
  // against a live one; how many were destroyed is counted.
  const CLIENT = Symbol('client');
  let destroyed = 0;
  async function liveClient(): Promise<pg.Client> {
    const c = client as unknown as { _ending?: boolean; _queryable?: boolean };
    if (c._ending || c._queryable === false) {
      destroyed++;
      await client.end().catch(() => {});
      client = new pg.Client(pgConfig);
      await client.connect();
    }
    return client;
  }

  const contexts = () =>
    fc.oneof(
      anyValue,
      fc.constant('bg').map(() => background()),
      fc.integer({ min: 1, max: 50 }).map((ms) => withTimeout(background(), ms)[0]),
      fc.constant('cancelled').map(() => {
        const [ctx, cancel] = withCancel(background());
        cancel();
        return ctx;
      }),
    );

  test('query(ctx, poolOrClient, text, values, opts)', async (t) => {
    if (!up) return t.skip(skipReason);
    const targets = fc.oneof(
      anyValue,
      fc.constant('pool').map(() => pool),
      fc.constant(CLIENT),
    );
    await fc.assert(
      fc.asyncProperty(
        contexts(),
        targets,
        anyText,
        anyValues,
        anyOptions,
        async (ctx, target, text, values, opts) => {
          const on = target === CLIENT ? await liveClient() : target;
          await settles(
            () => query(ctx as never, on as never, text as never, values as never, opts as never),
            /^query\(ctx, poolOrClient, text/,
          );
        },
      ),
      { numRuns: 300 },
    );
    // The pool still works after all that; the last client either works or was discarded and says so.
    assert.equal((await query(background(), pool, 'SELECT 1 AS n')).rows[0]!.n, 1);
    const last = await query(background(), client, 'SELECT 1 AS n').then(
      (r) => r.rows[0]!.n as unknown,
      (e: unknown) => (e as { code?: unknown }).code,
    );
    assert.ok(last === 1 || last === 'LEASH_ERR_PG_CONNECTION', `the client after the run: ${String(last)}`);
    assert.equal((await query(background(), await liveClient(), 'SELECT 1 AS n')).rows[0]!.n, 1);
    t.diagnostic(`clients destroyed at their cancel grace period: ${destroyed}`);
  });

  test('connect(ctx, pool) and withClient(ctx, pool, fn)', async (t) => {
    if (!up) return t.skip(skipReason);
    const pools = fc.oneof(
      anyValue,
      fc.constant('pool').map(() => pool),
    );
    const fns = fc.oneof(
      anyValue,
      fc.anything().map((v) => async () => v),
    );
    await fc.assert(
      fc.asyncProperty(contexts(), pools, async (ctx, p) => {
        await settles(
          async () => ((await connect(ctx as never, p as never)) as { release(): void }).release(),
          /^connect\(ctx, pool\)/,
        );
      }),
      { numRuns: 150 },
    );
    await fc.assert(
      fc.asyncProperty(contexts(), pools, fns, async (ctx, p, fn) => {
        await settles(
          () => withClient(ctx as never, p as never, fn as never),
          /^withClient\(ctx, pool, fn\)/,
        );
      }),
      { numRuns: 150 },
    );
    assert.equal(pool.waitingCount, 0);
    assert.equal((await query(background(), pool, 'SELECT 1 AS n')).rows[0]!.n, 1);
  });

  test('sendCancelRequest(target, timeoutMs)', async () => {
    const targets = fc.oneof(
      anyValue,
      fc.record({
        host: fc.oneof(fc.constantFrom('127.0.0.1', '', '/nonexistent-leash-dir'), anyValue),
        port: fc.oneof(fc.constantFrom(1, 5432, 0, 70000, -1), anyValue),
        processID: fc.oneof(fc.integer(), fc.constant(null), anyValue),
        secretKey: fc.oneof(fc.integer(), fc.constant(null), anyValue),
      }),
    );
    const timeouts = fc.oneof(fc.constant(undefined), fc.integer({ min: -5, max: 200 }), anyValue);
    await fc.assert(
      fc.asyncProperty(targets, timeouts, async (target, ms) => {
        // The well-formed calls go to 127.0.0.1 (PostgreSQL ignores a cancel with an unknown key) or
        // to a closed port or a missing socket directory: all settle quickly, none may throw raw.
        await settles(
          () => sendCancelRequest(target as never, (ms ?? 200) as never),
          /^sendCancelRequest\(target, timeoutMs\)/,
        );
      }),
      { numRuns: 300 },
    );
  });
});
