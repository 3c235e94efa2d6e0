// Integration tests for leashjs/pg against a real PostgreSQL on 127.0.0.1:5432 (database "test").
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import {
  background,
  CanceledError,
  isDeadlineExceeded,
  withCancel,
  withTimeout,
} from '../../src/context/index.js';
import { connect, PoolClosedError, query, withClient } from '../../src/pg/index.js';
import { pgConfig, postgresUp, skipReason } from './postgres.js';

const up = await postgresUp();

/** activeWith counts backends (other than the asking one) running a statement containing marker. */
async function activeWith(observer: pg.Pool, marker: string): Promise<number> {
  const r = await observer.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE '%' || $1 || '%'`,
    [marker],
  );
  return r.rows[0]!.n;
}

async function goneWithin(observer: pg.Pool, marker: string, ms: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    if ((await activeWith(observer, marker)) === 0) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 20));
  }
  return Number.POSITIVE_INFINITY;
}

describe('leashjs/pg', () => {
  let observer: pg.Pool;
  before(() => {
    if (up) observer = new pg.Pool({ ...pgConfig, max: 1 });
  });
  after(async () => {
    await observer?.end();
  });

  test('pg_sleep(30) under a 100 ms context is cancelled on the server and the client stays healthy', async (t) => {
    if (!up) return t.skip(skipReason);
    const pool = new pg.Pool({ ...pgConfig, max: 1 });
    try {
      const first = await pool.query('SELECT pg_backend_pid() AS pid');
      const pid = first.rows[0]!.pid;
      const marker = `leash-${randomUUID()}`;
      const [ctx, cancel] = withTimeout(background(), 100);
      const t0 = performance.now();
      const err = await query(ctx, pool, `SELECT pg_sleep(30) /* ${marker} */`).then(
        () => undefined,
        (e: unknown) => e,
      );
      cancel();
      assert.equal(err, ctx.err, 'rejects with ctx.err itself');
      assert.ok(isDeadlineExceeded(err));
      assert.ok(
        performance.now() - t0 < 1500,
        `query settled after ${(performance.now() - t0).toFixed(0)} ms`,
      );
      assert.ok(
        (await goneWithin(observer, marker, 1000)) < 1000,
        'gone from pg_stat_activity within a second',
      );

      const next = await pool.query('SELECT pg_backend_pid() AS pid, current_setting($1) AS st', [
        'statement_timeout',
      ]);
      assert.equal(next.rows[0]!.pid, pid, 'the same client came back to the pool');
      assert.equal(next.rows[0]!.st, '0', 'statement_timeout was reset');
      assert.equal(pool.totalCount, 1);
    } finally {
      await pool.end();
    }
  });

  test('a plain cancel (no deadline) stops the statement with a PostgreSQL cancel request', async (t) => {
    if (!up) return t.skip(skipReason);
    const client = new pg.Client(pgConfig);
    await client.connect();
    try {
      const marker = `leash-${randomUUID()}`;
      const [ctx, cancel] = withCancel(background());
      const pending = query(ctx, client, `SELECT pg_sleep(30) /* ${marker} */`).then(
        () => undefined,
        (e: unknown) => e,
      );
      while ((await activeWith(observer, marker)) === 0) await new Promise((r) => setTimeout(r, 10));
      const cancels: unknown[] = [];
      const onCancel = (m: unknown) => cancels.push(m);
      subscribe('leash:pg:cancel', onCancel);
      const t0 = performance.now();
      cancel();
      const err = await pending;
      unsubscribe('leash:pg:cancel', onCancel);
      assert.equal(cancels.length, 1, 'one cancel request, published on leash:pg:cancel');
      assert.equal(
        (cancels[0] as { processID: number }).processID,
        (client as unknown as { processID: number }).processID,
      );
      assert.ok(err instanceof CanceledError);
      assert.equal(err, ctx.err);
      assert.ok(performance.now() - t0 < 1000);
      assert.ok(
        (await goneWithin(observer, marker, 1000)) < 1000,
        'gone from pg_stat_activity within a second',
      );
      const again = await query(background(), client, 'SELECT 41 + 1 AS n');
      assert.equal(again.rows[0]!.n, 42);
    } finally {
      await client.end();
    }
  });

  test('statement_timeout never exceeds the remaining budget and is reset afterwards', async (t) => {
    if (!up) return t.skip(skipReason);
    const pool = new pg.Pool({ ...pgConfig, max: 1 });
    try {
      const [ctx, cancel] = withTimeout(background(), 2000);
      const r = await query(ctx, pool, "SELECT current_setting('statement_timeout') AS st");
      cancel();
      const m = /^(\d+)(ms|s)$/.exec(r.rows[0]!.st);
      assert.ok(m, `statement_timeout ${r.rows[0]!.st}`);
      const ms = Number(m[1]!) * (m[2] === 's' ? 1000 : 1);
      assert.ok(ms <= 2000 && ms > 1000, `statement_timeout ${ms} ms for a 2000 ms budget`);
      const after = await query(background(), pool, "SELECT current_setting('statement_timeout') AS st");
      assert.equal(after.rows[0]!.st, '0');
    } finally {
      await pool.end();
    }
  });

  test('a context that ends while waiting for a pool client frees the waiter and leaks no client', async (t) => {
    if (!up) return t.skip(skipReason);
    for (const connectionTimeoutMillis of [0, 10_000]) {
      // With connectionTimeoutMillis pg-pool wraps the waiter, so leash cannot unqueue it and must
      // instead give the client back the moment it arrives: both paths are checked.
      const pool = new pg.Pool({ ...pgConfig, max: 1, connectionTimeoutMillis });
      try {
        const held = await connect(background(), pool);
        const [ctx, cancel] = withTimeout(background(), 100);
        const t0 = performance.now();
        const err = await query(ctx, pool, 'SELECT 1').then(
          () => undefined,
          (e: unknown) => e,
        );
        cancel();
        assert.equal(err, ctx.err);
        assert.ok(performance.now() - t0 < 1000);
        if (connectionTimeoutMillis === 0)
          assert.equal(pool.waitingCount, 0, 'the waiter left the queue at once');
        held.release();
        for (let i = 0; i < 100 && (pool.idleCount !== 1 || pool.waitingCount !== 0); i++) {
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.equal(pool.waitingCount, 0);
        assert.equal(pool.idleCount, 1, 'the client is back in the pool, not held by a dead waiter');
        assert.equal((await query(background(), pool, 'SELECT 7 AS n')).rows[0]!.n, 7);
      } finally {
        await pool.end();
      }
    }
  });

  test('withClient gives the client back after success, failure and cancellation', async (t) => {
    if (!up) return t.skip(skipReason);
    const pool = new pg.Pool({ ...pgConfig, max: 1 });
    try {
      const n = await withClient(
        background(),
        pool,
        async (c) => (await query(background(), c, 'SELECT 1 AS n')).rows[0]!.n,
      );
      assert.equal(n, 1);
      await assert.rejects(
        withClient(background(), pool, async (c) => {
          await query(background(), c, 'SELECT * FROM no_such_table_leash');
        }),
        /no_such_table_leash/,
      );
      assert.equal(pool.idleCount, 1);
      const [ctx, cancel] = withTimeout(background(), 100);
      await assert.rejects(
        withClient(ctx, pool, (c) => query(ctx, c, 'SELECT pg_sleep(30)')),
        (e) => e === ctx.err,
      );
      cancel();
      assert.equal(pool.idleCount, 1);
      assert.equal(pool.totalCount, 1);
      assert.equal((await pool.query('SELECT 1 AS n')).rows[0]!.n, 1);
    } finally {
      await pool.end();
    }
  });

  test('a cancel racing the end of a statement never lands on the next statement of that client', async (t) => {
    if (!up) return t.skip(skipReason);
    // The context ends while the statement is finishing (by deadline, where the server's
    // statement_timeout races the cancel request too, and by a plain cancel). A cancel request that
    // arrived late would stop the follow-up statement instead; it must never.
    const client = new pg.Client(pgConfig);
    await client.connect();
    try {
      for (let i = 0; i < 40; i++) {
        const [ctx, cancel] = i % 2 === 0 ? withTimeout(background(), 15) : withCancel(background());
        const timer = i % 2 === 0 ? undefined : setTimeout(cancel, 15);
        const sleepMs = 10 + (i % 10);
        await query(ctx, client, `SELECT pg_sleep(${sleepMs / 1000})`).catch((e: unknown) => {
          if (e !== ctx.err) throw e;
        });
        clearTimeout(timer);
        cancel();
        const r = await client.query('SELECT pg_sleep(0.02), 1 AS n');
        assert.equal(r.rows[0].n, 1, `round ${i}`);
      }
    } finally {
      await client.end();
    }
  });

  test('a server that never answers the cancel: the query settles when ctx ends, the connection is destroyed at cancelGraceMs and the pool recovers', async (t) => {
    if (!up) return t.skip(skipReason);
    // A real TCP proxy in front of PostgreSQL that forwards sessions but swallows cancel requests
    // (16 bytes: length 16, code 80877102), as a partitioned or overloaded server would.
    const swallowed: net.Socket[] = [];
    const proxy = net.createServer((client) => {
      client.once('data', (first: Buffer) => {
        if (first.length >= 8 && first.readInt32BE(0) === 16 && first.readInt32BE(4) === 80877102) {
          swallowed.push(client);
          return;
        }
        const upstream = net.connect({ host: pgConfig.host, port: pgConfig.port });
        upstream.write(first);
        client.pipe(upstream).pipe(client);
        const close = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', close).on('close', close);
        upstream.on('error', close).on('close', close);
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as net.AddressInfo).port;
    const pool = new pg.Pool({ ...pgConfig, port, max: 1 });
    try {
      const [ctx, cancel] = withCancel(background());
      setTimeout(cancel, 100);
      const t0 = performance.now();
      const err = await query(ctx, pool, 'SELECT pg_sleep(3)', undefined, { cancelGraceMs: 200 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const took = performance.now() - t0;
      assert.equal(err, ctx.err, 'rejects with ctx.err itself');
      assert.ok(took < 250, `settled after ${took.toFixed(0)} ms: when ctx ended, not at the grace deadline`);
      for (let i = 0; i < 100 && pool.totalCount > 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(swallowed.length, 1, 'one cancel request was sent (and swallowed)');
      assert.equal(pool.totalCount, 0, 'the client was destroyed at the grace deadline, not given back');
      assert.equal((await query(background(), pool, 'SELECT 1 AS n')).rows[0]!.n, 1, 'the pool works');
    } finally {
      for (const s of swallowed) s.destroy();
      await pool.end();
      await new Promise((r) => proxy.close(r));
    }
  });

  test('an already-ended context never touches the pool', async (t) => {
    if (!up) return t.skip(skipReason);
    const pool = new pg.Pool({ ...pgConfig, max: 1 });
    try {
      const [ctx, cancel] = withCancel(background());
      cancel();
      await assert.rejects(query(ctx, pool, 'SELECT 1'), (e) => e === ctx.err);
      assert.equal(pool.totalCount, 0);
    } finally {
      await pool.end();
    }
  });

  test('bad input gets clear errors with codes', async (t) => {
    if (!up) return t.skip(skipReason);
    const pool = new pg.Pool({ ...pgConfig, max: 1 });
    const invalid = (e: unknown) =>
      e instanceof TypeError && (e as TypeError & { code: string }).code === 'LEASH_ERR_INVALID_ARG';
    await assert.rejects(query(undefined as never, pool, 'SELECT 1'), invalid);
    await assert.rejects(query({} as never, pool, 'SELECT 1'), invalid);
    await assert.rejects(query(background(), {} as never, 'SELECT 1'), invalid);
    await assert.rejects(query(background(), pool, 42 as never), invalid);
    await assert.rejects(query(background(), pool, 'SELECT $1', 'x' as never), invalid);
    await assert.rejects(withClient(background(), pool, undefined as never), invalid);
    // The pool left out: the message says so, rather than blaming text.
    await assert.rejects(query(background(), 'SELECT 1' as never, undefined as never), (e) => {
      assert.ok(invalid(e));
      assert.match((e as Error).message, /^query\(ctx, poolOrClient, text.*poolOrClient is missing/);
      return true;
    });
    await assert.rejects(query(background(), pool, 'SELECT 1', [], { cancelGraceMs: -1 }), (e) => {
      assert.ok(invalid(e));
      assert.match((e as Error).message, /opts\.cancelGraceMs must be .*>= 0|from 0/);
      return true;
    });
    await assert.rejects(query(background(), pool, 'SELECT 1', [], { cancelGrace: 10 } as never), (e) => {
      assert.ok(invalid(e));
      assert.match((e as Error).message, /unknown option "cancelGrace"; did you mean "cancelGraceMs"\?/);
      return true;
    });
    await assert.rejects(query(background(), pool, 'SELECT 1', [], 5 as never), invalid);
    for (const [call, where] of [
      [() => query({} as never, pool, 'SELECT 1'), /^query\(ctx, poolOrClient, text/],
      [() => connect({} as never, pool), /^connect\(ctx, pool\)/],
      [() => withClient({} as never, pool, async () => 1), /^withClient\(ctx, pool, fn\)/],
      [
        () => connect(background(), {} as never),
        /^connect\(ctx, pool\): pool must be a pg Pool, got an object/,
      ],
    ] as const) {
      await assert.rejects(
        Promise.resolve().then((): Promise<unknown> => (call as () => Promise<unknown>)()),
        (e) => {
          assert.ok(invalid(e));
          assert.match((e as Error).message, where);
          assert.doesNotMatch((e as Error).message, /article/);
          return true;
        },
      );
    }
    await pool.end();
    await assert.rejects(query(background(), pool, 'SELECT 1'), (e) => {
      assert.ok(e instanceof PoolClosedError);
      assert.equal(e.code, 'LEASH_ERR_POOL_CLOSED');
      assert.match(e.message, /pool\.end\(\)/);
      return true;
    });
  });
});
