// Chaos for PostgreSQL queries through leashjs/pg's query.
import type { Context } from '../context/index.js';
import { assertContext } from '../context/internal.js';
import {
  ConnectionError,
  type PgClient,
  type PgPool,
  type PgQueryConfig,
  type PgQueryResult,
  type PgRow,
  type QueryOptions,
  query,
} from '../pg/index.js';
import type { ChaosController } from './controller.js';
import { DECIDE } from './controller.js';
import { delay, injectedError } from './faults.js';
import { checkController, TAKES_CONTROLLER } from './middleware.js';
import { noExtraArgs } from './spec.js';

/** ChaosQuery is leashjs/pg's query signature, which chaosQuery() keeps. */
export type ChaosQuery = <R = PgRow>(
  ctx: Context,
  poolOrClient: PgPool | PgClient,
  text: string | PgQueryConfig,
  values?: readonly unknown[],
  opts?: QueryOptions,
) => Promise<PgQueryResult<R>>;

/**
 * chaosQuery returns leashjs/pg's `query(ctx, poolOrClient, text, values?, opts?)` with the faults
 * of `controller` injected before the statement is sent (a pg call has no headers: give the target
 * a key, not a header). It takes no options: an argument after the controller throws
 * LEASH_ERR_INVALID_ARG.
 *
 * - latency and cpu delay the statement; hang never sends it and rejects with ctx.err when ctx ends
 *   (no client is checked out meanwhile);
 * - error rejects with a ChaosError or the fault's own error;
 * - drop rejects with leashjs/pg's ConnectionError (LEASH_ERR_PG_CONNECTION), what a connection lost
 *   under a statement gives, with a `cause` whose code is ECONNRESET. No statement is sent.
 *
 * @example
 * const q = chaosQuery(controller);
 * const { rows } = await q(ctx, pool, 'SELECT id FROM orders WHERE user_id = $1', [userId]);
 */
export function chaosQuery(controller: ChaosController): ChaosQuery {
  checkController(controller, 'chaosQuery(controller)');
  // biome-ignore lint/complexity/noArguments: an argument past the controller is reported, not ignored.
  noExtraArgs(arguments, 1, 'chaosQuery(controller)', TAKES_CONTROLLER);
  return <R = PgRow>(
    ctx: Context,
    poolOrClient: PgPool | PgClient,
    text: string | PgQueryConfig,
    values?: readonly unknown[],
    opts?: QueryOptions,
  ): Promise<PgQueryResult<R>> => {
    let d: ReturnType<ChaosController[typeof DECIDE]>;
    try {
      assertContext(ctx, 'chaosQuery(controller)(ctx, poolOrClient, text, values?, opts?)');
      d = controller[DECIDE](ctx, 'pg');
    } catch (e) {
      return Promise.reject(e);
    }
    const run = () => query<R>(ctx, poolOrClient, text, values, opts);
    if (d === undefined) return run();
    if (d.fault === 'error') return Promise.reject(injectedError(controller.name, d));
    if (d.fault === 'drop') {
      const reset = Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
      return Promise.reject(
        new ConnectionError(`${controller.name}: injected dropped connection to PostgreSQL`, reset),
      );
    }
    const wait = delay(ctx, d);
    return wait === undefined ? run() : wait.then(run);
  };
}
