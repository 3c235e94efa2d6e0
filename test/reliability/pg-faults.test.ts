// Faults between leashjs/pg and PostgreSQL, through a real TCP proxy the test controls (the
// machine's PostgreSQL is never touched): a connection that drops mid-statement, while a client is
// held, and a network that is down and comes back. pg emits 'error' on a client whose connection
// broke; on a checked-out pool client nobody listens, and before the fix the process died here.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { background, withTimeout } from '../../src/context/index.js';
import { ConnectionError, connect, query, withClient } from '../../src/pg/index.js';
import { pgConfig, postgresUp, skipReason } from '../pg/postgres.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const up = await postgresUp();
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** newPool makes a pool through the proxy. pg's own rule stands: a pool needs an 'error' listener for
 * its idle clients (pg-pool emits there); leash covers the clients it has checked out. */
function newPool(port: number, max: number): pg.Pool {
  const pool = new pg.Pool({ ...pgConfig, port, max });
  pool.on('error', () => {});
  return pool;
}

function isConnectionError(e: unknown): e is ConnectionError {
  return e instanceof ConnectionError && e.code === 'LEASH_ERR_PG_CONNECTION' && e.cause instanceof Error;
}

async function settle<T>(p: Promise<T>): Promise<{ err: unknown; ms: number }> {
  const t0 = performance.now();
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return { err, ms: performance.now() - t0 };
}

describe('leashjs/pg under network faults', () => {
  let observer: pg.Pool;
  let proxy: TcpProxy;
  before(async () => {
    if (!up) return;
    observer = new pg.Pool({ ...pgConfig, max: 1 });
    proxy = await startTcpProxy({ host: pgConfig.host, port: pgConfig.port });
  });
  after(async () => {
    await observer?.end();
    await proxy?.close();
  });

  /** running counts statements containing marker still active on the server. */
  async function running(marker: string): Promise<number> {
    const r = await observer.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE '%' || $1 || '%'`,
      [marker],
    );
    return r.rows[0]!.n;
  }
  async function goneWithin(marker: string, ms: number): Promise<boolean> {
    const t0 = performance.now();
    while (performance.now() - t0 < ms) {
      if ((await running(marker)) === 0) return true;
      await delay(20);
    }
    return false;
  }

  test('query on a pool: the connection drops 300 ms into pg_sleep(3): ConnectionError, client discarded, statement stopped, pool recovers', async (t) => {
    if (!up) return t.skip(skipReason);
    const pool = newPool(proxy.port, 2);
    try {
      for (const deadline of [undefined, 10_000]) {
        const marker = `leash-${randomUUID()}`;
        const [ctx, cancel] =
          deadline === undefined ? [background(), () => {}] : withTimeout(background(), deadline);
        const cutter = setTimeout(() => proxy.cut(), 300);
        const { err, ms } = await settle(query(ctx, pool, `SELECT pg_sleep(3) /* ${marker} */`));
        clearTimeout(cutter);
        cancel();
        assert.ok(isConnectionError(err), `rejects with ConnectionError, got ${String(err)}`);
        assert.match(err.message, /^query\(ctx, poolOrClient, text/);
        assert.match((err.cause as Error).message, /Connection terminated|ECONNRESET|EPIPE/);
        assert.ok(ms < 1500, `settled ${ms.toFixed(0)} ms after the start, not after pg_sleep(3)`);
        assert.equal(pool.totalCount, 0, 'the broken client was discarded');
        assert.ok(await goneWithin(marker, 1500), 'the orphaned statement was stopped on the server');
        const r = await query(background(), pool, 'SELECT 1 AS n');
        assert.equal(r.rows[0]!.n, 1, 'the pool works again at once');
      }
    } finally {
      await pool.end();
    }
  });

  test('a direct Client: ConnectionError, and later error events from the dead connection do not crash', async (t) => {
    if (!up) return t.skip(skipReason);
    const client = new pg.Client({ ...pgConfig, port: proxy.port });
    await client.connect();
    const cutter = setTimeout(() => proxy.cut(), 200);
    const { err } = await settle(query(background(), client, 'SELECT pg_sleep(3)'));
    clearTimeout(cutter);
    assert.ok(isConnectionError(err), `rejects with ConnectionError, got ${String(err)}`);
    await delay(100); // pg may emit a second 'error' for the same connection
    const again = await settle(query(background(), client, 'SELECT 1'));
    assert.ok(isConnectionError(again.err), 'a broken client keeps saying so');
    await client.end().catch(() => {});
  });

  test('withClient: the connection drops inside fn: ConnectionError, the client is discarded, the pool recovers', async (t) => {
    if (!up) return t.skip(skipReason);
    const pool = newPool(proxy.port, 1);
    try {
      const cutter = setTimeout(() => proxy.cut(), 200);
      const { err } = await settle(
        withClient(background(), pool, async (c) => {
          await query(background(), c, 'SELECT 1');
          await query(background(), c, 'SELECT pg_sleep(3)');
        }),
      );
      clearTimeout(cutter);
      assert.ok(isConnectionError(err), `rejects with ConnectionError, got ${String(err)}`);
      assert.equal(pool.totalCount, 0);
      // fn using pg directly: pg's own error reaches the caller, the process survives, the client goes.
      const cutter2 = setTimeout(() => proxy.cut(), 200);
      const raw = await settle(withClient(background(), pool, (c) => c.query('SELECT pg_sleep(3)')));
      clearTimeout(cutter2);
      assert.ok(raw.err instanceof Error, 'rejects');
      assert.equal(pool.totalCount, 0);
      assert.equal((await query(background(), pool, 'SELECT 2 AS n')).rows[0]!.n, 2);
    } finally {
      await pool.end();
    }
  });

  test('connect: a held, idle client whose connection drops does not crash the process; release() discards it', async (t) => {
    if (!up) return t.skip(skipReason);
    const pool = newPool(proxy.port, 1);
    try {
      const client = await connect(background(), pool);
      proxy.cut();
      await delay(200); // pg emits 'error' on the client now, while the caller holds it
      client.release(); // no error passed: leash still discards it
      assert.equal(pool.totalCount, 0, 'the broken client was not given back to the pool');
      assert.equal((await query(background(), pool, 'SELECT 3 AS n')).rows[0]!.n, 3);
    } finally {
      await pool.end();
    }
  });

  test('the network is down, then back: ConnectionError while down, the pool works as soon as it is back', async (t) => {
    if (!up) return t.skip(skipReason);
    const pool = newPool(proxy.port, 2);
    try {
      await query(background(), pool, 'SELECT 1');
      proxy.down();
      proxy.cut();
      await delay(50);
      const q = await settle(query(background(), pool, 'SELECT 1'));
      assert.ok(isConnectionError(q.err), `query while down: ConnectionError, got ${String(q.err)}`);
      const c = await settle(connect(background(), pool));
      assert.ok(isConnectionError(c.err), `connect while down: ConnectionError, got ${String(c.err)}`);
      assert.match((c.err as Error).message, /^connect\(ctx, pool\)/);
      const w = await settle(withClient(background(), pool, async () => 1));
      assert.ok(isConnectionError(w.err), `withClient while down: ConnectionError, got ${String(w.err)}`);
      proxy.up();
      assert.equal((await query(background(), pool, 'SELECT 4 AS n')).rows[0]!.n, 4);
      assert.equal(pool.waitingCount, 0);
    } finally {
      proxy.up();
      await pool.end();
    }
  });
});
