import type { Client, Pool, PoolClient } from 'pg';
import { type Context, isContext } from '../context/index.js';
import { invalidArg } from './errors.js';

/** isPool tells a pg Pool from a client by shape (pg is an optional peer: no instanceof). */
export function isPool(value: unknown): value is Pool {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Pool).connect === 'function' &&
    typeof (value as Pool).query === 'function' &&
    'totalCount' in value &&
    'idleCount' in value
  );
}

/** isClient tells a pg Client or PoolClient by shape. */
export function isClient(value: unknown): value is Client | PoolClient {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Client).query === 'function' &&
    'processID' in value &&
    'secretKey' in value
  );
}

/** assertContext throws LEASH_ERR_INVALID_ARG unless value is a Context (the core's isContext). */
export function assertContext(value: unknown, what: string): asserts value is Context {
  if (!isContext(value)) {
    throw invalidArg(
      `${what} must be a leash Context (for example the request's req.ctx); context.Background with no timeout is how the article's incident started`,
    );
  }
}
