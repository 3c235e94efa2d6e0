// leashjs/pg: PostgreSQL queries bound to a context. `pg` is an optional peer: this module only
// imports its types; you pass in your own Pool or Client.
export type { CancelTarget } from './cancel-request.js';
export { sendCancelRequest } from './cancel-request.js';
export { PoolClosedError } from './errors.js';
export type { QueryOptions } from './query.js';
export { query } from './query.js';
export { connect, withClient } from './with-client.js';
