import type { PgClient, PgPool } from './types.js';

/** isPool tells a pg Pool from a client by shape (pg is an optional peer: no instanceof). */
export function isPool(value: unknown): value is PgPool {
  try {
    return (
      typeof value === 'object' &&
      value !== null &&
      typeof (value as PgPool).connect === 'function' &&
      typeof (value as PgPool).query === 'function' &&
      'totalCount' in value &&
      'idleCount' in value
    );
  } catch {
    return false;
  }
}

/** isClient tells a pg Client or PoolClient by shape. */
export function isClient(value: unknown): value is PgClient {
  try {
    return (
      typeof value === 'object' &&
      value !== null &&
      typeof (value as PgClient).query === 'function' &&
      typeof (value as { on?: unknown }).on === 'function' &&
      typeof (value as { removeListener?: unknown }).removeListener === 'function' &&
      'processID' in value &&
      'secretKey' in value
    );
  } catch {
    return false;
  }
}
