import type { Context } from '../context/index.js';
import { afterFunc, remaining } from '../context/index.js';
import { assertContext, assertNumber, assertOptions, describe, invalidArg } from '../context/internal.js';
import { submitBounded } from './bounded.js';
import { resetTimeoutSql, setTimeoutSql, statementTimeoutMs } from './budget.js';
import type { CancelTarget } from './cancel-request.js';
import { sendCancelRequest } from './cancel-request.js';
import { ConnectionError } from './errors.js';
import { isHealthy, lostError, markLost, raw, txStatus, whileRunning } from './session.js';
import { isClient, isPool } from './targets.js';
import type { PgClient, PgPool, PgQueryConfig, PgQueryResult, PgRow } from './types.js';
import { acquire } from './with-client.js';

/** QueryOptions tunes how a cancelled query is given up. */
export interface QueryOptions {
  /**
   * cancelGraceMs is how long to wait, after the cancel request was sent, for the server to stop the
   * statement. If it has not by then (server unreachable), the connection is destroyed so the promise
   * still settles. Milliseconds, from 0 to 2147483647. Default: 5_000.
   */
  cancelGraceMs?: number;
}

const queryCanceled = '57014';
const inFailedTransaction = '25P02';
const activeSqlTransaction = '25001';
const where = 'query(ctx, poolOrClient, text, values?, opts?)';

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
  const vals = values as unknown[] | undefined;
  return (
    pool
      ? onPool(ctx, poolOrClient as PgPool, text, vals, graceMs)
      : runQuery(ctx, poolOrClient as PgClient, text, vals, graceMs)
  ) as Promise<PgQueryResult<R>>;
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

/**
 * onPool runs the statement on a client checked out for it. The caller's promise settles as soon as
 * ctx ends (the client is leash's alone, so nobody can send it a statement the cancel could hit);
 * the client goes back to the pool only once the server confirmed the cancel (or is destroyed at
 * cancelGraceMs), exactly as when the caller waits.
 */
function onPool(
  ctx: Context,
  pool: PgPool,
  text: unknown,
  values: unknown[] | undefined,
  graceMs: number,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    acquire(ctx, pool, where, (err, client, giveBack) => {
      if (client === undefined || giveBack === undefined) {
        reject(err);
        return;
      }
      runQuery(ctx, client, text, values, graceMs, () => reject(ctx.err)).then(
        (v) => {
          giveBack();
          resolve(v);
        },
        (e: unknown) => {
          giveBack();
          reject(e);
        },
      );
    });
  });
}

function isQueryText(text: unknown): boolean {
  if (typeof text === 'string') return true;
  try {
    return typeof text === 'object' && text !== null && typeof (text as PgQueryConfig).text === 'string';
  } catch {
    return false;
  }
}

/** runQuery runs one statement on a client leash may use, under ctx. */
export async function runQuery(
  ctx: Context,
  client: PgClient,
  text: unknown,
  values: unknown[] | undefined,
  graceMs: number,
  onEnd?: () => void,
): Promise<unknown> {
  if (ctx.err !== undefined) throw ctx.err;
  const broken = lostError(client);
  if (broken !== undefined) throw connectionLost(broken, 'before the statement was sent');
  // Budgets come from remaining(ctx), which reads the monotonic clock: a wall-clock step changes nothing.
  const ms = statementTimeoutMs(remaining(ctx));
  const tx = txStatus(client);
  // In a failed transaction block only ROLLBACK/COMMIT run (and they are quick): no SET there.
  if (ms === 0 || tx === 'E')
    return cancellable(ctx, client, () => send(client, text, values), false, graceMs, onEnd);

  // One message: SET LOCAL in an idle session, SET and RESET inside the caller's block, the text
  // alone in a failed block; bounded.ts chooses when pg sends it (the status is known only then).
  let sent: { readonly local: boolean } | undefined;
  try {
    return await cancellable(
      ctx,
      client,
      () => {
        const bounded = submitBounded(client, text, values, ms);
        if (bounded !== undefined) {
          sent = bounded;
          return bounded.done;
        }
        return separate(ctx, client, text, values, ms);
      },
      true,
      graceMs,
      onEnd,
    );
  } catch (err) {
    if (sent === undefined || !isHealthy(client)) throw err;
    const local = sent.local;
    const code = (err as { code?: unknown }).code;
    // VACUUM and friends refuse to run in the implicit transaction: they did nothing; run them alone.
    if (code === activeSqlTransaction && local && ctx.err === undefined) {
      const again = statementTimeoutMs(remaining(ctx));
      return cancellable(ctx, client, () => separate(ctx, client, text, values, again), true, graceMs, onEnd);
    }
    // SET LOCAL ended with the implicit transaction. A session SET was rolled back with the failed
    // statement's transaction (or will be by the caller's ROLLBACK), unless the error was raised in
    // this process (a value pg could not serialize): then it may still be set.
    if (!local && typeof (err as { severity?: unknown }).severity !== 'string' && txStatus(client) !== 'E') {
      await resetTimeout(client);
    }
    throw err;
  }
}

function send(client: PgClient, text: unknown, values: unknown[] | undefined): Promise<unknown> {
  return raw(client).query(text, values);
}

/** separate: SET, the statement, RESET as three round trips (the fallback). */
async function separate(
  ctx: Context,
  client: PgClient,
  text: unknown,
  values: unknown[] | undefined,
  ms: number,
): Promise<unknown> {
  await raw(client).query(setTimeoutSql(ms));
  try {
    if (ctx.err !== undefined) throw ctx.err;
    return await send(client, text, values);
  } finally {
    await resetTimeout(client);
  }
}

function connectionLost(cause: Error, when: string): ConnectionError {
  return new ConnectionError(
    `${where}: the connection to PostgreSQL broke ${when} (${cause.message}); the client was discarded and the statement's outcome is unknown`,
    cause,
  );
}

async function cancellable(
  ctx: Context,
  client: PgClient,
  run: () => Promise<unknown>,
  limited: boolean,
  graceMs: number,
  onEnd?: () => void,
): Promise<unknown> {
  // A cancel request stops whatever the backend runs when the signal lands, so it must never be
  // sent after this statement settled, and one already on its way must have landed before the
  // client runs anything else (the next statement, another request's query).
  let settled = false;
  let cancelling: Promise<void> | undefined;
  let grace: NodeJS.Timeout | undefined;
  const cancel = () => {
    if (settled || cancelling !== undefined) return;
    cancelling = sendCancelRequest(raw(client) as CancelTarget, Math.max(1, graceMs));
  };
  // pg emits 'error' on a client whose connection broke; a pool client has no listener while it is
  // checked out, so without this one the process would die. The statement may still run on the
  // server (only this connection broke): a best-effort cancel request stops it. It cannot hit
  // another session: the backend's key pair is its own, and its session is gone.
  const running = whileRunning(client, cancel);
  const stop = afterFunc(ctx, () => {
    onEnd?.(); // a query on a pool settles now; this client is leash's alone until it is given back
    if (settled) return;
    cancel();
    grace = setTimeout(() => destroyConnection(client), graceMs);
  });
  try {
    return await run();
  } catch (err) {
    settled = true; // already here: the deadline may fire during the sleep below
    if (ctx.err !== undefined) throw ctx.err;
    const broken = lostError(client);
    if (broken !== undefined) throw connectionLost(broken, 'while the statement ran');
    // Our own statement_timeout fired a hair before the context's deadline timer (it was at most the
    // remaining budget when sent): wait for the deadline, then report it rather than pg's 57014.
    if (limited && isStatementTimeout(err) && remaining(ctx) < 50) {
      // Bounded, for a foreign context whose deadline might never fire; generous, because a
      // loaded event loop runs the deadline timer late (100 ms and more was measured).
      await Promise.race([ctx.done, delay(remaining(ctx) + 2_000)]);
      if (ctx.err !== undefined) throw ctx.err;
    }
    throw err;
  } finally {
    settled = true;
    stop();
    if (grace !== undefined) clearTimeout(grace);
    running();
    // The server closes the cancel connection only after it signalled the backend; an idle backend
    // drops the signal, so once this resolves the client is safe to reuse. A client whose connection
    // broke (or was destroyed at the grace deadline) is never reused: no need to wait then.
    if (cancelling !== undefined && isHealthy(client)) await cancelling;
  }
}

/** isStatementTimeout: SQLSTATE 57014 (the message, which says why, may be translated). */
function isStatementTimeout(err: unknown): boolean {
  return (err as { code?: unknown }).code === queryCanceled;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

async function resetTimeout(client: PgClient): Promise<void> {
  if (!isHealthy(client)) return;
  // A cancel request is asynchronous on the server: in a rare race it lands on this RESET instead
  // of the statement it was meant for. One retry covers that race.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await raw(client).query(resetTimeoutSql);
      return;
    } catch (err) {
      const code = (err as { code?: string }).code;
      // The caller's block failed while the statement ran (its status is known only once pg sends
      // the RESET): a SET inside a block is transactional, so the caller's ROLLBACK undoes it.
      if (code === inFailedTransaction) return;
      if (code !== queryCanceled) throw err;
    }
  }
}

/**
 * destroyConnection ends a client whose server did not stop the statement within the grace period.
 * pg then emits 'error' ("Connection terminated unexpectedly"), which markLost's listener absorbs;
 * the caller learns of the cancel through the query's rejection with ctx.err, and the pool drops the
 * client when it is released.
 */
function destroyConnection(client: PgClient): void {
  const stream = raw(client).connection?.stream;
  if (stream === undefined) return;
  markLost(client, new Error('the connection was destroyed: the server did not answer the cancel request'));
  stream.destroy();
}
