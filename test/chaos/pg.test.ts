// chaosQuery against a real PostgreSQL on 127.0.0.1:5432 (database "test"): each fault, the key
// blast radius, seeded reproducibility, and nothing left behind. Imports the built package.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { background, createKey, isDeadlineExceeded, withTimeout, withValue } from 'leashjs';
import { ChaosError, chaosController, chaosQuery } from 'leashjs/chaos';
import { snapshot, verifyNone } from 'leashjs/leak';
import { ConnectionError } from 'leashjs/pg';
import pg from 'pg';
import { pgConfig, postgresUp, skipReason } from '../pg/postgres.js';

const up = await postgresUp();

describe('chaosQuery on PostgreSQL', { skip: up ? false : skipReason }, () => {
  let pool: pg.Pool;
  let base: ReturnType<typeof snapshot>;
  const controller = chaosController({ name: 'db', seed: 1 });
  const q = chaosQuery(controller);
  before(() => {
    base = snapshot();
    pool = new pg.Pool({ ...pgConfig, max: 4 });
  });
  let ended = false;
  after(() => (ended ? undefined : pool.end()));

  test('no fault: the statement runs', async () => {
    const r = await q<{ n: number }>(background(), pool, 'SELECT $1::int AS n', [7]);
    assert.equal(r.rows[0]?.n, 7);
  });

  test('latency delays the statement; cpu burns before it', async () => {
    controller.update({ faults: [{ type: 'latency', probability: 1, ms: 80 }] });
    let t0 = performance.now();
    assert.equal((await q(background(), pool, 'SELECT 1 AS n')).rows.length, 1);
    assert.ok(performance.now() - t0 >= 75);
    controller.update({ faults: [{ type: 'cpu', probability: 1, ms: 30 }] });
    t0 = performance.now();
    const r = q(background(), pool, 'SELECT 1 AS n');
    assert.ok(performance.now() - t0 >= 29, 'burnt synchronously');
    await r;
  });

  test('error and drop fail without sending a statement; drop is a leashjs/pg ConnectionError', async () => {
    const marker = `chaos_${process.pid}_${Date.now()}`;
    controller.update({ faults: [{ type: 'error', probability: 1 }] });
    await assert.rejects(
      q(background(), pool, `SELECT '${marker}'`),
      (e: unknown) => e instanceof ChaosError && e.fault === 'error',
    );
    controller.update({ faults: [{ type: 'drop', probability: 1 }] });
    await assert.rejects(q(background(), pool, `SELECT '${marker}'`), (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.equal(e.code, 'LEASH_ERR_PG_CONNECTION');
      assert.equal((e.cause as { code?: string }).code, 'ECONNRESET');
      return true;
    });
    controller.update({ faults: [] });
    const seen = await q<{ n: number }>(
      background(),
      pool,
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()`,
      [marker],
    );
    assert.equal(seen.rows[0]?.n, 0, 'no backend ever saw the statement');
  });

  test('hang: released by the deadline, no client checked out meanwhile', async () => {
    controller.update({ faults: [{ type: 'hang', probability: 1 }] });
    const [ctx, cancel] = withTimeout(background(), 100);
    const t0 = performance.now();
    const r = q(ctx, pool, 'SELECT 1');
    await new Promise((res) => setTimeout(res, 30));
    assert.equal(pool.totalCount - pool.idleCount, 0, 'no client held by the hung call');
    await assert.rejects(r, (e) => isDeadlineExceeded(e));
    cancel();
    const took = performance.now() - t0;
    // The core's shared deadline timer may fire a few ms early by the wall of performance.now().
    assert.ok(took >= 80 && took < 2_000, `released after ${took} ms`);
  });

  test('blast radius by key: only the canary tenant gets the fault', async () => {
    const tenant = createKey<string>('tenant');
    controller.update({ faults: [{ type: 'error', probability: 1 }] });
    const scoped = chaosController({
      seed: 2,
      target: { key: (ctx) => ctx.value(tenant), keys: ['canary'] },
      faults: [{ type: 'error', probability: 1 }],
    });
    const sq = chaosQuery(scoped);
    assert.equal((await sq(withValue(background(), tenant, 'main'), pool, 'SELECT 1 AS n')).rows.length, 1);
    assert.equal((await sq(background(), pool, 'SELECT 1 AS n')).rows.length, 1);
    await assert.rejects(sq(withValue(background(), tenant, 'canary'), pool, 'SELECT 1'), ChaosError);
  });

  test('the same seed gives the same outcomes over real queries', async () => {
    const run = async () => {
      controller.update({
        seed: 1234,
        faults: [
          { type: 'error', probability: 0.3 },
          { type: 'latency', probability: 0.3, minMs: 0, maxMs: 3 },
        ],
      });
      const out: string[] = [];
      for (let i = 0; i < 40; i++) {
        out.push(
          await q(background(), pool, 'SELECT 1').then(
            () => 'ok',
            (e: ChaosError) => e.fault,
          ),
        );
      }
      return out;
    };
    const a = await run();
    assert.deepEqual(await run(), a);
    assert.ok(a.includes('ok') && a.includes('error'));
  });

  test('the pool ends', async () => {
    await pool.end();
    ended = true;
  });

  // Not async: its own promise would count against the baseline.
  test('nothing left behind', () => verifyNone({ baseline: base }));
});
