// leashjs/pg: PostgreSQL queries bound to a context. `pg` is an optional peer: this module imports
// nothing from it, not even types; you pass in your own Pool or Client.
export type { CancelTarget, PgCancelMessage } from './cancel-request.js';
export { sendCancelRequest } from './cancel-request.js';
export { ConnectionError, PoolClosedError } from './errors.js';
export type { QueryOptions } from './query.js';
export { query } from './query.js';
export type {
  PgClient,
  PgFieldDef,
  PgPool,
  PgPoolClient,
  PgQueryConfig,
  PgQueryResult,
  PgRow,
  PoolClientOf,
} from './types.js';
export { connect, withClient } from './with-client.js';
