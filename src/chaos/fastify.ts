// Chaos for Fastify, as a plugin registered after fastifyContext().
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '../context/index.js';
import { contextOf } from '../http/index.js';
import type { ChaosController } from './controller.js';
import { DECIDE } from './controller.js';
import { delay, injectedError } from './faults.js';
import { checkController, settled, TAKES_CONTROLLER } from './middleware.js';
import { noExtraArgs } from './spec.js';

/** ChaosFastifyInstanceLike is the part of a Fastify instance chaosFastify() uses; a Fastify instance satisfies it. */
export interface ChaosFastifyInstanceLike {
  addHook(
    name: 'onRequest',
    hook: (
      request: { raw: IncomingMessage },
      reply: { raw: ServerResponse },
      done: (err?: Error) => void,
    ) => void,
  ): unknown;
}

/** ChaosFastifyPlugin is the plugin chaosFastify() returns; register it on the root instance. */
export type ChaosFastifyPlugin = ((
  instance: ChaosFastifyInstanceLike,
  opts: unknown,
  done: (err?: Error) => void,
) => void) & {
  [key: symbol]: unknown;
};

/**
 * chaosFastify returns a Fastify 5 plugin (marked skip-override, so it covers the whole instance)
 * that adds an onRequest hook injecting the faults of `controller`, as chaosMiddleware describes
 * for Express. Register it after fastifyContext(). An injected error goes to Fastify's error
 * handling (a ChaosError carries `statusCode`); after a hang whose response leashjs/http already
 * answered (a deadline) or whose client left, the hook never calls done, so Fastify sends nothing.
 * It takes no options: an argument after the controller throws LEASH_ERR_INVALID_ARG.
 *
 * @example
 * await app.register(fastifyContext(background(), { timeoutMs: 5_000 }));
 * await app.register(chaosFastify(controller));
 */
export function chaosFastify(controller: ChaosController): ChaosFastifyPlugin {
  checkController(controller, 'chaosFastify(controller)');
  // biome-ignore lint/complexity/noArguments: an argument past the controller is reported, not ignored.
  noExtraArgs(arguments, 1, 'chaosFastify(controller)', TAKES_CONTROLLER);
  const plugin = (instance: ChaosFastifyInstanceLike, _opts: unknown, done: (err?: Error) => void) => {
    instance.addHook('onRequest', (request, reply, next) => {
      let ctx: Context;
      let d: ReturnType<ChaosController[typeof DECIDE]>;
      try {
        ctx = contextOf(request);
        d = controller[DECIDE](ctx, 'middleware', request.raw.headers);
      } catch (e) {
        next(e as Error);
        return;
      }
      if (d === undefined) {
        next();
        return;
      }
      if (d.fault === 'error') {
        next(injectedError(controller.name, d));
        return;
      }
      if (d.fault === 'drop') {
        request.raw.socket.destroy();
        return;
      }
      const wait = delay(ctx, d);
      if (wait === undefined) {
        next();
        return;
      }
      wait.then(
        () => next(),
        (e: unknown) => settled(reply.raw, e, (err) => next(err as Error)),
      );
    });
    done();
  };
  const marked = plugin as ChaosFastifyPlugin;
  marked[Symbol.for('skip-override')] = true;
  marked[Symbol.for('fastify.display-name')] = 'leash-chaos';
  return marked;
}
