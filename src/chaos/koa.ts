// Chaos for Koa, after koaContext().
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '../context/index.js';
import { contextOf } from '../http/index.js';
import type { ChaosController } from './controller.js';
import { DECIDE } from './controller.js';
import { delay, injectedError } from './faults.js';
import { checkController, TAKES_CONTROLLER, waited } from './middleware.js';
import { noExtraArgs } from './spec.js';

/**
 * ChaosKoaContextLike is the part of Koa's context that chaosKoa() uses. Structural, so leash's
 * types need neither koa nor @types/koa; Koa's own context satisfies it.
 */
export interface ChaosKoaContextLike {
  req: IncomingMessage;
  res: ServerResponse;
  state: object;
  respond?: boolean;
}

/** ChaosKoaMiddleware is the middleware chaosKoa() returns; `app.use()` accepts it. */
export type ChaosKoaMiddleware = (kctx: ChaosKoaContextLike, next: () => Promise<unknown>) => Promise<void>;

/**
 * chaosKoa returns Koa middleware that injects the faults of `controller`, as chaosMiddleware
 * describes for Express: use it after koaContext(). An injected error is thrown for Koa to answer
 * (a ChaosError carries `status` and `expose`); after a hang or a drop whose response leashjs/http
 * already answered or that has no client left, Koa is told not to respond (`respond = false`).
 * It takes no options: an argument after the controller throws LEASH_ERR_INVALID_ARG.
 *
 * @example
 * app.use(koaContext(background(), { timeoutMs: 5_000 }));
 * app.use(chaosKoa(controller));
 */
export function chaosKoa(controller: ChaosController): ChaosKoaMiddleware {
  checkController(controller, 'chaosKoa(controller)');
  // biome-ignore lint/complexity/noArguments: an argument past the controller is reported, not ignored.
  noExtraArgs(arguments, 1, 'chaosKoa(controller)', TAKES_CONTROLLER);
  return async (kctx, next) => {
    const ctx: Context = contextOf(kctx);
    const d = controller[DECIDE](ctx, 'middleware', kctx.req.headers);
    if (d === undefined) {
      await next();
      return;
    }
    if (d.fault === 'error') throw injectedError(controller.name, d);
    if (d.fault === 'drop') {
      kctx.respond = false;
      kctx.req.socket.destroy();
      return;
    }
    const wait = delay(ctx, d);
    if (wait !== undefined) {
      const after = await waited(kctx.res, wait);
      if (after === 'answered') {
        // leashjs/http answered the deadline, or the client left: Koa must not write.
        kctx.respond = false;
        return;
      }
      if (after !== 'go') throw after.err;
    }
    await next();
  };
}
