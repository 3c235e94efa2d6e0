import type { Client, Pool, PoolClient, QueryConfig, QueryResult, QueryResultRow } from 'pg';
import type { Context } from '../context/index.js';
import { afterFunc, remaining, sleep } from '../context/index.js';
import type { CancelTarget } from './cancel-request.js';
import { sendCancelRequest } from './cancel-request.js';
import { invalidArg } from './errors.js';
import { assertContext, isClient, isPool } from './targets.js';
import { isHealthy, withClient } from './with-client.js';

/** QueryOptions tunes how a cancelled query is given up. */
export interface QueryOptions {
  /**
   * cancelGraceMs is how long to wait, after the cancel request was sent, for the server to stop the
   * statement. If it has not by then (server unreachable), the connection is destroyed so the promise
   * still settles. Default: 5_000.
   */
  cancelGraceMs?: number;
}

const queryCanceled = '57014';

/**
 * query runs one statement under ctx on a pg Pool (a client is checked out with connect semantics and
 * always given back), a PoolClient or a Client.
 *
 * - If ctx has a deadline, the session's statement_timeout is set to the remaining budget (whole
 *   ms, at least 1) for this statement and reset after it, so the server stops the statement by
 *   itself even if this process dies.
 * - When ctx ends first, a PostgreSQL cancel request (the protocol message, on a fresh connection)
 *   stops the statement on the server, and the promise rejects with ctx.err once the server
 *   confirmed (usually within a millisecond or two on a LAN; at most cancelGraceMs, after which the
 *   connection is destroyed rather than waited on). The client is then healthy and goes back to the
 *   pool; a broken one is destroyed instead.
 * - Bad input throws TypeError (LEASH_ERR_INVALID_ARG); an ended pool rejects with PoolClosedError.
 *
 * Safe to call concurrently on a pool. On one client, queries queue as pg queues them; do not share
 * a client between contexts (a cancel stops whatever statement that backend is running).
 *
 * @example
 * const { rows } = await query(req.ctx, pool, 'SELECT id, total FROM orders WHERE user_id = $1', [userId]);
 */
export async function query<R extends QueryResultRow = QueryResultRow>(
  ctx: Context,
  target: Pool | PoolClient | Client,
  text: string | QueryConfig,
  values?: unknown[],
  opts: QueryOptions = {},
): Promise<QueryResult<R>> {
  assertContext(ctx, 'query(ctx, poolOrClient, text): ctx');
  if (
    typeof text !== 'string' &&
    (typeof text !== 'object' || text === null || typeof text.text !== 'string')
  ) {
    throw invalidArg('query(ctx, poolOrClient, text): text must be SQL text or a pg QueryConfig');
  }
  if (values !== undefined && !Array.isArray(values)) {
    throw invalidArg('query(ctx, poolOrClient, text, values): values must be an array when given');
  }
  if (isPool(target))
    return withClient(ctx, target, (client) => runQuery<R>(ctx, client, text, values, opts));
  if (isClient(target)) return runQuery<R>(ctx, target, text, values, opts);
  throw invalidArg('query(ctx, poolOrClient, text): poolOrClient must be a pg Pool, PoolClient or Client');
}

async function runQuery<R extends QueryResultRow>(
  ctx: Context,
  client: Client | PoolClient,
  text: string | QueryConfig,
  values: unknown[] | undefined,
  opts: QueryOptions,
): Promise<QueryResult<R>> {
  if (ctx.err !== undefined) throw ctx.err;
  const budget = remaining(ctx);
  const limited = budget !== Number.POSITIVE_INFINITY;
  if (limited) {
    // statement_timeout = 0 would mean "no limit": never send less than 1.
    await client.query(`SET statement_timeout = ${Math.max(1, Math.floor(budget))}`);
  }
  try {
    if (ctx.err !== undefined) throw ctx.err;
    return await cancellable<R>(ctx, client, text, values, limited, opts.cancelGraceMs ?? 5_000);
  } finally {
    if (limited) await resetTimeout(client);
  }
}

async function cancellable<R extends QueryResultRow>(
  ctx: Context,
  client: Client | PoolClient,
  text: string | QueryConfig,
  values: unknown[] | undefined,
  limited: boolean,
  graceMs: number,
): Promise<QueryResult<R>> {
  const pending = client.query<R>(text as QueryConfig, values);
  // A cancel request stops whatever the backend runs when the signal lands, so it must never be
  // sent after this statement settled, and one already on its way must have landed before the
  // client runs anything else (the next statement, the RESET, another request's query).
  let settled = false;
  let cancelling: Promise<void> | undefined;
  let grace: NodeJS.Timeout | undefined;
  const stop = afterFunc(ctx, () => {
    if (settled) return;
    cancelling = sendCancelRequest(client as unknown as CancelTarget, graceMs);
    grace = setTimeout(() => destroyConnection(client), graceMs);
  });
  try {
    return await pending;
  } catch (err) {
    settled = true; // already here: the deadline may fire during the sleep below
    if (ctx.err !== undefined) throw ctx.err;
    // Our own statement_timeout fired a hair before the context's deadline timer: report the deadline.
    if (limited && (err as { code?: string }).code === queryCanceled && remaining(ctx) < 50) {
      await sleep(ctx, remaining(ctx) + 1).catch(() => {});
      if (ctx.err !== undefined) throw ctx.err;
    }
    throw err;
  } finally {
    settled = true;
    stop();
    if (grace !== undefined) clearTimeout(grace);
    // The server closes the cancel connection only after it signalled the backend; an idle backend
    // drops the signal, so once this resolves the client is safe to reuse. A client whose connection
    // broke (or was destroyed at the grace deadline) is never reused: no need to wait then.
    if (cancelling !== undefined && isHealthy(client as PoolClient)) await cancelling;
  }
}

async function resetTimeout(client: Client | PoolClient): Promise<void> {
  if (!isHealthy(client as PoolClient)) return;
  // A cancel request is asynchronous on the server: in a rare race it lands on this RESET instead
  // of the statement it was meant for. One retry covers that race.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await client.query('RESET statement_timeout');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== queryCanceled) throw err;
    }
  }
}

/**
 * destroyConnection ends a client whose server did not stop the statement within the grace period.
 * pg then emits 'error' ("Connection terminated unexpectedly") on the client, and a client checked
 * out of a pg Pool has no 'error' listener at that point (pg-pool removes its own while the client
 * is out), so the process would crash on an error leash caused on purpose. The client gets a
 * listener for that; the caller learns of the cancel through the query's rejection with ctx.err,
 * and the pool drops the client when it is released.
 */
function destroyConnection(client: Client | PoolClient): void {
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  if (stream === undefined) return;
  client.on('error', expectedTermination);
  stream.destroy();
}

function expectedTermination(): void {}
