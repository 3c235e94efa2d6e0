// The server-side budget of leashjs/pg against a real PostgreSQL: statement_timeout travels in the
// statement's own message and is enforced by the server alone, in every protocol path and
// transaction state, and never outlives the statement.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { background, withTimeout } from '../../src/context/index.js';
import { query } from '../../src/pg/index.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { pgConfig, postgresUp, skipReason } from './postgres.js';

const up = await postgresUp();
const isCancelRequest = (b: Buffer) =>
  b.length >= 8 && b.readInt32BE(0) === 16 && b.readInt32BE(4) === 80877102;

async function setting(client: pg.Client): Promise<string> {
  return (await client.query("SELECT current_setting('statement_timeout') AS st")).rows[0].st;
}

describe('leashjs/pg server-side budget', () => {
  let proxy: TcpProxy;
  let client: pg.Client;
  before(async () => {
    if (!up) return;
    // Cancel requests are swallowed: whatever stops a statement here, it is the server's own timeout.
    proxy = await startTcpProxy({
      host: pgConfig.host,
      port: pgConfig.port,
      onFirstData: (b) => !isCancelRequest(b),
    });
    client = new pg.Client({ ...pgConfig, port: proxy.port });
    await client.connect();
  });
  after(async () => {
    await client?.end();
    await proxy?.close();
  });

  const cases: Array<[string, string, unknown[] | undefined]> = [
    ['text (simple protocol)', 'SELECT pg_sleep(5)', undefined],
    ['with values (extended protocol)', 'SELECT pg_sleep($1)', [5]],
  ];
  for (const [name, text, values] of cases) {
    for (const inTx of [false, true]) {
      test(`${name}${inTx ? ', inside a transaction block' : ''}: the server stops the statement at the budget by itself`, async (t) => {
        if (!up) return t.skip(skipReason);
        if (inTx) await client.query('BEGIN');
        const [ctx, cancel] = withTimeout(background(), 300);
        const t0 = performance.now();
        try {
          const err = await query(ctx, client, text, values, { cancelGraceMs: 20_000 }).then(
            () => undefined,
            (e: unknown) => e,
          );
          const took = performance.now() - t0;
          assert.equal(err, ctx.err, 'rejects with the deadline');
          assert.ok(
            took < 3000,
            `settled after ${took.toFixed(0)} ms: the server's statement_timeout, not the 20 s grace`,
          );
          if (inTx) assert.equal(client.getTransactionStatus?.() ?? 'E', 'E');
        } finally {
          cancel();
          if (inTx) await client.query('ROLLBACK');
        }
        assert.equal(await setting(client), '0', 'statement_timeout does not outlive the statement');
      });
    }
  }

  test('after success, in and out of a transaction block, with and without values, nothing is left set', async (t) => {
    if (!up) return t.skip(skipReason);
    const [ctx, cancel] = withTimeout(background(), 5_000);
    try {
      for (const values of [undefined, [1]]) {
        const text = values
          ? "SELECT current_setting('statement_timeout') AS st, $1::int AS n"
          : "SELECT current_setting('statement_timeout') AS st";
        const r = await query(ctx, client, text, values);
        assert.match(r.rows[0]!.st, /^\d+ms$|^5s$/, 'set while the statement runs');
        assert.equal(await setting(client), '0');
        await client.query('BEGIN');
        await query(ctx, client, text, values);
        assert.equal(await setting(client), '0', 'inside the block too');
        await client.query('ROLLBACK');
        assert.equal(await setting(client), '0', 'and after a ROLLBACK');
      }
    } finally {
      cancel();
    }
  });

  test('a failed transaction block: ROLLBACK under a deadline works (no SET is sent where only ROLLBACK may run)', async (t) => {
    if (!up) return t.skip(skipReason);
    const [ctx, cancel] = withTimeout(background(), 5_000);
    try {
      await client.query('BEGIN');
      await assert.rejects(client.query('SELECT * FROM no_such_table_leash_budget'));
      await query(ctx, client, 'ROLLBACK');
      assert.equal(await setting(client), '0');
    } finally {
      cancel();
    }
  });

  test('the session forgets prepared statements (DISCARD ALL, DEALLOCATE ALL): the next query under a deadline still runs', async (t) => {
    if (!up) return t.skip(skipReason);
    const [ctx, cancel] = withTimeout(background(), 5_000);
    try {
      assert.equal((await query(ctx, client, 'SELECT $1::int AS n', [1])).rows[0]!.n, 1);
      for (const forget of ['DISCARD ALL', 'DEALLOCATE ALL']) {
        await client.query(forget);
        assert.equal((await query(ctx, client, 'SELECT $1::int AS n', [2])).rows[0]!.n, 2, `after ${forget}`);
        assert.equal((await query(ctx, client, 'SELECT $1::int AS n', [3])).rows[0]!.n, 3);
      }
    } finally {
      cancel();
    }
  });

  test('a deadline 40 days away: statement_timeout is capped at PostgreSQL’s maximum instead of failing', async (t) => {
    if (!up) return t.skip(skipReason);
    const [ctx, cancel] = withTimeout(background(), 40 * 24 * 3600 * 1000);
    try {
      const r = await query(ctx, client, 'SELECT $1::int AS n', [1]);
      assert.equal(r.rows[0]!.n, 1);
      assert.equal((await query(ctx, client, 'SELECT 2 AS n')).rows[0]!.n, 2);
    } finally {
      cancel();
    }
  });

  test('what pg returns is unchanged: multi-statement arrays, rowMode, empty text, error positions, VACUUM', async (t) => {
    if (!up) return t.skip(skipReason);
    const [ctx, cancel] = withTimeout(background(), 5_000);
    try {
      const multi = (await query(
        ctx,
        client,
        'SELECT 1 AS a; SELECT 2 AS b -- trailing comment',
      )) as unknown as pg.QueryResult[];
      assert.ok(Array.isArray(multi));
      assert.deepEqual(
        multi.map((r) => r.rows),
        [[{ a: 1 }], [{ b: 2 }]],
      );
      const arr = await query(ctx, client, {
        text: 'SELECT $1::int AS n, 2 AS m',
        values: [1],
        rowMode: 'array',
      });
      assert.deepEqual(arr.rows, [[1, 2]]);
      const empty = await query(ctx, client, '-- nothing');
      assert.deepEqual(empty.rows, []);
      for (const values of [undefined, [1]]) {
        const err = (await query(ctx, client, values ? 'SELEC $1' : 'SELEC 1', values).catch((e) => e)) as {
          code: string;
          position: string;
        };
        assert.equal(err.code, '42601');
        assert.equal(err.position, '1', 'the position is in the caller’s text');
      }
      await query(ctx, client, 'VACUUM pg_class'); // refuses a transaction block: run on its own
      const named = { name: 'leash-budget-named', text: 'SELECT $1::int AS n' };
      assert.equal((await query(ctx, client, { ...named, values: [3] })).rows[0]!.n, 3);
      assert.equal((await query(ctx, client, { ...named, values: [4] })).rows[0]!.n, 4);
      assert.equal(await setting(client), '0');
    } finally {
      cancel();
    }
  });
});
