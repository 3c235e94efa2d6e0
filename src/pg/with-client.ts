import type { Context } from '../context/index.js';
import { afterFunc } from '../context/index.js';
import { assertContext, assertFunction, describe, invalidArg } from '../context/internal.js';
import { ConnectionError, PoolClosedError } from './errors.js';
import { guardClient, isHealthy, lostError } from './session.js';
import { isPool } from './targets.js';
import type { PgClient, PgPool, PgPoolClient, PoolClientOf } from './types.js';

type ConnectCallback = (
  err: Error | undefined,
  client: PgPoolClient | undefined,
  release: (err?: Error | boolean) => void,
) => void;
type PendingItem = { callback: unknown };
type PoolState = { ending?: boolean; ended?: boolean };

function assertPool(pool: unknown, where: string): asserts pool is PgPool {
  if (isPool(pool)) return;
  throw invalidArg(`${where}: pool must be a pg Pool, got ${describe(pool)}`);
}

/**
 * connect checks a client out of pool, or rejects with ctx.err if ctx ends first. A waiter whose
 * context ends is taken out of the pool's wait queue at once (pg-pool's queue is not public API; if
 * its shape ever changes, leash falls back to releasing the client the moment it arrives), so an
 * abandoned wait never holds or leaks a client. While you hold the client, a broken connection does
 * not crash the process (pg's 'error' event is handled) and `release()` discards a broken client. A
 * pool that cannot open a connection rejects with ConnectionError (LEASH_ERR_PG_CONNECTION). The
 * caller owns the returned client and must call `client.release()`; prefer withClient, which cannot
 * forget.
 */
export function connect<P extends PgPool>(ctx: Context, pool: P): Promise<PoolClientOf<P>> {
  const where = 'connect(ctx, pool)';
  assertContext(ctx, where);
  assertPool(pool, where);
  return checkout(ctx, pool, where) as Promise<PoolClientOf<P>>;
}

/** Acquired receives a checked-out, guarded client and the function that gives it back, or the error. */
export type Acquired = (
  err: unknown,
  client?: PgPoolClient,
  giveBack?: (err?: Error | boolean) => void,
) => void;

/**
 * acquire checks a client out of pool under ctx, callback style (no promise: it runs for every
 * query on a pool). While it is out, its 'error' events are handled (see guardClient); giveBack()
 * releases it, discarding it (release(err)) if its connection broke. `where` names the public call.
 */
export function acquire(ctx: Context, pool: PgPool, where: string, done: Acquired): void {
  if (ctx.err !== undefined) {
    done(ctx.err);
    return;
  }
  const state = pool as unknown as PoolState;
  if (state.ending || state.ended) {
    done(new PoolClosedError());
    return;
  }
  let settled = false;
  const callback: ConnectCallback = (err, client, release) => {
    if (settled) {
      // The context ended first and the waiter could not be unqueued: give the client back.
      if (client !== undefined) release();
      return;
    }
    settled = true;
    stop();
    if (err !== undefined || client === undefined) {
      done(connectFailure(pool, err, where));
      return;
    }
    const unguard = guardClient(client);
    done(undefined, client, (e?: Error | boolean) => {
      unguard();
      release(e || releaseReason(client));
    });
  };
  const stop = afterFunc(ctx, () => {
    if (settled) return;
    settled = true;
    unqueue(pool, callback);
    done(ctx.err);
  });
  try {
    (pool.connect as (cb: ConnectCallback) => void)(callback);
  } catch (err) {
    if (settled) return;
    settled = true;
    stop();
    done(err);
  }
}

/**
 * connectFailure is what a caller of pool.connect gets when it gave no client: PoolClosedError if
 * the pool was ended meanwhile, else ConnectionError with pg's error as cause.
 */
export function connectFailure(pool: PgPool, err: Error | undefined, where: string): Error {
  const state = pool as unknown as PoolState;
  if (state.ending || state.ended) return new PoolClosedError();
  const cause = err ?? new Error('pg Pool.connect gave no client');
  return new ConnectionError(
    `${where}: could not get a connection to PostgreSQL from the pool (${cause.message})`,
    cause,
  );
}

/**
 * unqueue takes a waiter whose context ended out of pg-pool's wait queue, found by its connect
 * callback (not public API: if its shape changes, the client is released the moment it arrives).
 */
export function unqueue(pool: PgPool, callback: unknown): void {
  const queue = (pool as unknown as { _pendingQueue?: PendingItem[] })._pendingQueue;
  if (!Array.isArray(queue)) return;
  const i = queue.findIndex((item) => item.callback === callback);
  if (i >= 0) queue.splice(i, 1);
}

/** releaseReason is what to pass release() for a client leash gives back: why to discard it, or undefined. */
export function releaseReason(client: PgClient): Error | undefined {
  return lostError(client) ?? (isHealthy(client) ? undefined : new Error('pg client is not queryable'));
}

/**
 * checkout is connect without the argument checks. The client's release() gives it back as
 * acquire's giveBack does: a broken client is discarded, whatever the caller passes. pg-pool
 * removes its own 'error' listener while a client is out, so a connection that breaks then (even
 * between queries) would emit an unhandled 'error' and kill the process; leash listens instead.
 */
export function checkout(ctx: Context, pool: PgPool, where: string): Promise<PgPoolClient> {
  return new Promise((resolve, reject) =>
    acquire(ctx, pool, where, (err, client, giveBack) => {
      if (client === undefined || giveBack === undefined) {
        reject(err);
        return;
      }
      const release = client.release;
      client.release = (e?: Error | boolean) => {
        client.release = release;
        giveBack(e);
      };
      resolve(client);
    }),
  );
}

/**
 * withClient checks a client out of pool under ctx (see connect), runs fn with it, and always gives
 * it back: healthy clients return to the pool, a client whose connection broke is destroyed instead
 * (`release(err)`). Use it for several queries that must share a session (a transaction, SET LOCAL,
 * advisory locks); pass ctx on to every query inside so each one is cancelled with it.
 *
 * @example
 * await withClient(ctx, pool, async (client) => {
 *   await query(ctx, client, 'BEGIN');
 *   await query(ctx, client, 'UPDATE stock SET n = n - 1 WHERE id = $1', [id]);
 *   await query(ctx, client, 'COMMIT');
 * });
 */
export async function withClient<P extends PgPool, T>(
  ctx: Context,
  pool: P,
  fn: (client: PoolClientOf<P>) => Promise<T>,
): Promise<T> {
  const where = 'withClient(ctx, pool, fn)';
  assertContext(ctx, where);
  assertPool(pool, where);
  assertFunction(fn, where, 'fn');
  return usingClient(ctx, pool, where, fn as (client: PgPoolClient) => Promise<T>);
}

/** usingClient is withClient without the argument checks. */
export async function usingClient<T>(
  ctx: Context,
  pool: PgPool,
  where: string,
  fn: (client: PgPoolClient) => Promise<T>,
): Promise<T> {
  const client = await checkout(ctx, pool, where);
  let broken: Error | undefined;
  try {
    return await fn(client);
  } catch (err) {
    if (!isHealthy(client)) broken = err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    client.release(broken);
  }
}
