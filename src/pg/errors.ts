/**
 * PoolClosedError is thrown when a query or withClient is given a pool on which end() was called.
 * Code: LEASH_ERR_POOL_CLOSED. Check the shutdown order: stop the work that uses the pool before
 * ending it.
 */
export class PoolClosedError extends Error {
  readonly code = 'LEASH_ERR_POOL_CLOSED';
  constructor() {
    super('the pg Pool was ended (pool.end() was called); stop the work that uses it before ending the pool');
    this.name = 'PoolClosedError';
  }
}

/**
 * ConnectionError is thrown when the connection to PostgreSQL broke while leash used it (the network
 * dropped, the server restarted or terminated the backend) or a pool could not open one. Code:
 * LEASH_ERR_PG_CONNECTION; `cause` is pg's own error (for example "Connection terminated
 * unexpectedly", or ECONNREFUSED). A statement that was running when the connection broke may or may
 * not have been committed: its outcome is unknown. The broken client is never reused (a pool drops
 * it); retrying on a new connection is safe for idempotent work.
 */
export class ConnectionError extends Error {
  readonly code = 'LEASH_ERR_PG_CONNECTION';
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'ConnectionError';
  }
}
