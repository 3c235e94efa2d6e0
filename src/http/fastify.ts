import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { Context } from '../context/index.js';
import { contextRunner } from './current-context.js';
import type { RequestContextOptions } from './request-context.js';
import { assertContext, checkOptions, requestContext } from './request-context.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** ctx is the leash request context, set by fastifyContext(). */
    ctx: Context;
  }
}

/** FastifyContextPlugin is the plugin fastifyContext() returns; register it on the root instance. */
export type FastifyContextPlugin = ((
  instance: FastifyInstance,
  opts: unknown,
  done: (err?: Error) => void,
) => void) & {
  [key: symbol]: unknown;
};

/**
 * fastifyContext returns a Fastify 5 plugin that gives each request a context derived from root, as
 * `request.ctx` and through currentContext(). Register it with `app.register(fastifyContext(root))`.
 * It is marked skip-override (what fastify-plugin does), so it applies to the whole instance and to
 * every plugin registered after it. It adds an onRequest hook (creates the context) and a
 * preHandler hook (re-enters it, so handlers of requests with a body also see currentContext()).
 * See requestContext for when the context ends. It does not import fastify at run time.
 */
export function fastifyContext(root: Context, opts: RequestContextOptions = {}): FastifyContextPlugin {
  assertContext(root, 'fastifyContext(root): root');
  checkOptions(opts);
  const runWithContext = contextRunner(opts.asyncLocalStorage);
  const plugin = (instance: FastifyInstance, _opts: unknown, done: (err?: Error) => void) => {
    instance.decorateRequest('ctx', undefined as unknown as Context);
    instance.addHook(
      'onRequest',
      (request: FastifyRequest, reply: FastifyReply, next: HookHandlerDoneFunction) => {
        const ctx = requestContext(root, request.raw, reply.raw, opts);
        request.ctx = ctx;
        runWithContext(ctx, next);
      },
    );
    if (opts.asyncLocalStorage !== false) {
      instance.addHook(
        'preHandler',
        (request: FastifyRequest, _reply: FastifyReply, next: HookHandlerDoneFunction) => {
          runWithContext(request.ctx, next);
        },
      );
    }
    done();
  };
  const marked = plugin as FastifyContextPlugin;
  marked[Symbol.for('skip-override')] = true;
  marked[Symbol.for('fastify.display-name')] = 'leash-context';
  return marked;
}
