// leashjs/pg leaves nothing behind after many queries: no link on a long-lived context, no deadline
// in the shared timer queue, no 'error' listener on a pooled client beyond pg-pool's own, no
// waiter in the pool, and a flat heap (measured with --expose-gc). Real PostgreSQL on 127.0.0.1:5432.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { background, withCancel, withTimeout } from '../../src/context/index.js';
import { childCount, deadlineTimerStats } from '../../src/context/test-support/inspect.js';
import { query } from '../../src/pg/index.js';
import { pgConfig, postgresUp, skipReason } from './postgres.js';

const up = await postgresUp();

// One of each path, in turn: under a deadline (statement_timeout in the same message), under the
// long-lived context alone (no deadline), with values, failing on the server, and cancelled while
// waiting for a client of the saturated pool.
async function mix(pool: pg.Pool, parent: ReturnType<typeof withCancel>[0], i: number): Promise<void> {
  switch (i % 5) {
    case 0: {
      const [ctx, cancel] = withTimeout(parent, 5_000);
      await query(ctx, pool, 'SELECT 1 AS n');
      cancel();
      return;
    }
    case 1:
      await query(parent, pool, 'SELECT 2 AS n');
      return;
    case 2: {
      const [ctx, cancel] = withTimeout(parent, 5_000);
      await query(ctx, pool, 'SELECT $1::int AS n', [i]);
      cancel();
      return;
    }
    case 3: {
      const [ctx, cancel] = withTimeout(parent, 5_000);
      await assert.rejects(query(ctx, pool, 'SELEC 1'), { code: '42601' });
      cancel();
      return;
    }
    default: {
      const [ctx, cancel] = withCancel(parent);
      const p = query(ctx, pool, 'SELECT 3 AS n');
      cancel(); // still waiting for a client, or just sent: either way it must leave nothing
      await p.catch(() => {});
    }
  }
}

test('many queries on every path leave no link, deadline, listener, waiter or heap behind', async (t) => {
  if (!up) return t.skip(skipReason);
  const calls = Number(process.env.LEASH_PG_LEAK_CALLS ?? 20_000);
  const pool = new pg.Pool({ ...pgConfig, max: 4 });
  pool.on('error', () => {});
  const [parent, cancelParent] = withCancel(background());
  const deadlinesBefore = deadlineTimerStats().deadlines;
  try {
    const run = async (n: number) => {
      // 16 callers on a pool of 4: the saturated path (waiting for a client) is exercised too.
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < n) await mix(pool, parent, next++);
        }),
      );
    };
    await run(1_000); // warm up: connections, JIT
    globalThis.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    await run(calls);
    await new Promise((r) => setImmediate(r));
    globalThis.gc?.();
    const grown = process.memoryUsage().heapUsed - heapBefore;

    assert.equal(childCount(parent), 0, 'no registration left on the long-lived context');
    assert.equal(deadlineTimerStats().deadlines, deadlinesBefore, 'no deadline left in the shared queue');
    assert.equal(pool.waitingCount, 0, 'no waiter left in the pool');
    assert.ok(pool.totalCount <= 4);
    // Every client is idle in the pool, with pg-pool's idle 'error' listener and nothing of leash's.
    const clients = (pool as unknown as { _clients: pg.PoolClient[] })._clients;
    assert.equal(pool.idleCount, clients.length);
    for (const c of clients) assert.equal(c.listenerCount('error'), 1, 'only pg-pool’s idle listener');
    assert.ok(grown < 2 * 1024 * 1024, `heap grew ${grown} bytes over ${calls} queries`);
  } finally {
    cancelParent();
    await pool.end();
  }
});
