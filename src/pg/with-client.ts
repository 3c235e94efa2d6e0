import type { Pool, PoolClient } from 'pg';
import type { Context } from '../context/index.js';
import { afterFunc } from '../context/index.js';
import { invalidArg, PoolClosedError } from './errors.js';
import { assertContext, isPool } from './targets.js';

type ConnectCallback = (
  err: Error | undefined,
  client: PoolClient | undefined,
  release: (err?: Error | boolean) => void,
) => void;
type PendingItem = { callback: unknown };

/**
 * connect checks a client out of pool, or rejects with ctx.err if ctx ends first. A waiter whose
 * context ends is taken out of the pool's wait queue at once (pg-pool's queue is not public API; if
 * its shape ever changes, leash falls back to releasing the client the moment it arrives), so an
 * abandoned wait never holds or leaks a client. The caller owns the returned client and must call
 * `client.release()`; prefer withClient, which cannot forget.
 */
export function connect(ctx: Context, pool: Pool): Promise<PoolClient> {
  assertContext(ctx, 'connect(ctx, pool): ctx');
  if (!isPool(pool)) throw invalidArg('connect(ctx, pool): pool must be a pg Pool');
  if (ctx.err !== undefined) return Promise.reject(ctx.err);
  if (pool.ending || pool.ended) return Promise.reject(new PoolClosedError());
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback: ConnectCallback = (err, client, release) => {
      if (settled) {
        // The context ended first and the waiter could not be unqueued: give the client back.
        if (client !== undefined) release();
        return;
      }
      settled = true;
      stop();
      if (err !== undefined || client === undefined)
        reject(err ?? new Error('pg Pool.connect gave no client'));
      else resolve(client);
    };
    const stop = afterFunc(ctx, () => {
      if (settled) return;
      settled = true;
      const queue = (pool as unknown as { _pendingQueue?: PendingItem[] })._pendingQueue;
      if (Array.isArray(queue)) {
        const i = queue.findIndex((item) => item.callback === callback);
        if (i >= 0) queue.splice(i, 1);
      }
      reject(ctx.err);
    });
    (pool.connect as (cb: ConnectCallback) => void)(callback);
  });
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
export async function withClient<T>(
  ctx: Context,
  pool: Pool,
  fn: (client: PoolClient) => Promise<T>,
): Promise<T> {
  assertContext(ctx, 'withClient(ctx, pool, fn): ctx');
  if (!isPool(pool)) throw invalidArg('withClient(ctx, pool, fn): pool must be a pg Pool');
  if (typeof fn !== 'function') throw invalidArg('withClient(ctx, pool, fn): fn must be a function');
  const client = await connect(ctx, pool);
  let broken: Error | undefined;
  try {
    return await fn(client);
  } catch (err) {
    if (!isHealthy(client)) broken = err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    client.release(broken ?? (isHealthy(client) ? undefined : new Error('pg client connection is broken')));
  }
}

/** isHealthy reports whether a pg client can still run queries (not ended, not errored). */
export function isHealthy(client: PoolClient): boolean {
  const c = client as unknown as {
    _ending?: boolean;
    _ended?: boolean;
    _queryable?: boolean;
    _connectionError?: boolean;
  };
  return c._ending !== true && c._ended !== true && c._queryable !== false && c._connectionError !== true;
}
