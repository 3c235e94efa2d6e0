import type { Context } from '../context/index.js';
import { assertContext, assertNumber, assertOptions, describe, invalidArg } from '../context/internal.js';
import { Statement, where } from './statement.js';
import { isClient, isPool } from './targets.js';
import type { PgClient, PgPool, PgQueryConfig, PgQueryResult, PgRow } from './types.js';

/** QueryOptions tunes how a cancelled query is given up. */
export interface QueryOptions {
  /**
   * cancelGraceMs is how long to wait, after the cancel request was sent, for the server to stop the
   * statement. If it has not by then (server unreachable), the connection is destroyed so the promise
   * still settles. Milliseconds, from 0 to 2147483647. Default: 5_000.
   */
  cancelGraceMs?: number;
}

/**
 * query runs one statement under ctx on a pg Pool (a client is checked out with connect semantics and
 * always given back), a PoolClient or a Client.
 *
 * - If ctx has a deadline, the statement runs with statement_timeout set to the remaining budget
 *   (whole ms, at least 1), sent in the same round trip as the statement and reset after it, so the
 *   server stops the statement by itself even if this process dies.
 * - When ctx ends first, a PostgreSQL cancel request (the protocol message, on a fresh connection)
 *   stops the statement on the server, and the promise rejects with ctx.err once the server
 *   confirmed (usually within a millisecond or two on a LAN; at most cancelGraceMs, after which the
 *   connection is destroyed rather than waited on). The client is then healthy and goes back to the
 *   pool; a broken one is destroyed instead.
 * - If the connection breaks (network, server restart), the promise rejects with ConnectionError
 *   (LEASH_ERR_PG_CONNECTION, pg's error as `cause`); the process never sees an unhandled 'error'.
 * - Bad input rejects with TypeError (LEASH_ERR_INVALID_ARG); an ended pool with PoolClosedError.
 *
 * Safe to call concurrently on a pool. On one client, queries queue as pg queues them; do not share
 * a client between contexts (a cancel stops whatever statement that backend is running).
 *
 * @example
 * const { rows } = await query(req.ctx, pool, 'SELECT id, total FROM orders WHERE user_id = $1', [userId]);
 */
export function query<R = PgRow>(
  ctx: Context,
  poolOrClient: PgPool | PgClient,
  text: string | PgQueryConfig,
  values?: readonly unknown[],
  opts?: QueryOptions,
): Promise<PgQueryResult<R>> {
  // Not an async function: one promise less per query, which counts with hundreds waiting for a client.
  let graceMs: number;
  let pool: boolean;
  try {
    ({ graceMs, pool } = checkArgs(ctx, poolOrClient, text, values, opts));
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise((resolve, reject) => {
    new Statement(
      ctx,
      pool ? (poolOrClient as PgPool) : null,
      pool ? null : (poolOrClient as PgClient),
      text,
      values as unknown[] | undefined,
      graceMs,
      resolve as (v: unknown) => void,
      reject,
    ).start();
  });
}

function checkArgs(
  ctx: unknown,
  poolOrClient: unknown,
  text: unknown,
  values: unknown,
  opts: QueryOptions | undefined,
): { graceMs: number; pool: boolean } {
  assertContext(ctx, where);
  if (typeof poolOrClient === 'string') {
    throw invalidArg(
      `${where}: poolOrClient is missing: got ${describe(poolOrClient)} where a pg Pool or Client belongs; write query(ctx, pool, text)`,
    );
  }
  const pool = isPool(poolOrClient);
  if (!pool && !isClient(poolOrClient)) {
    throw invalidArg(
      `${where}: poolOrClient must be a pg Pool, PoolClient or Client, got ${describe(poolOrClient)}`,
    );
  }
  if (!isQueryText(text)) {
    throw invalidArg(
      `${where}: text must be SQL text or a pg QueryConfig ({ text, values? }), got ${describe(text)}`,
    );
  }
  if (values !== undefined && !Array.isArray(values)) {
    throw invalidArg(`${where}: values must be an array when given, got ${describe(values)}`);
  }
  const o = assertOptions(opts, where, ['cancelGraceMs']);
  const graceMs = o.cancelGraceMs ?? 5_000;
  assertNumber(graceMs, where, 'opts.cancelGraceMs', { min: 0, max: 2_147_483_647, unit: 'milliseconds' });
  return { graceMs, pool };
}

function isQueryText(text: unknown): boolean {
  if (typeof text === 'string') return true;
  try {
    return typeof text === 'object' && text !== null && typeof (text as PgQueryConfig).text === 'string';
  } catch {
    return false;
  }
}
