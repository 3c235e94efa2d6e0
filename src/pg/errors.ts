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

/** invalidArg builds the TypeError (code LEASH_ERR_INVALID_ARG) that leashjs/pg throws on bad input. */
export function invalidArg(message: string): TypeError {
  const err = new TypeError(message) as TypeError & { code: string };
  err.code = 'LEASH_ERR_INVALID_ARG';
  return err;
}
