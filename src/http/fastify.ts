import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '../context/index.js';
import { assertContext } from '../context/internal.js';
import { contextRunner } from './current-context.js';
import { statusFor } from './errors.js';
import type { RequestContextOptions } from './request-context.js';
import { checkOptions, createRequestContext } from './request-context.js';

/** FastifyRequestLike is the part of a Fastify request that fastifyContext() uses. */
export interface FastifyRequestLike {
  raw: IncomingMessage;
  ctx?: Context;
}

/** FastifyReplyLike is the part of a Fastify reply that fastifyContext() uses. */
export interface FastifyReplyLike {
  raw: ServerResponse;
  code(statusCode: number): unknown;
}

/**
 * FastifyInstanceLike is the part of a Fastify instance that fastifyContext() uses. Structural, so
 * leash's declarations need no fastify types; a Fastify instance satisfies it.
 */
export interface FastifyInstanceLike {
  decorateRequest(name: string, value: unknown): unknown;
  addHook(
    name: 'onRequest' | 'preHandler',
    hook: (request: FastifyRequestLike, reply: FastifyReplyLike, done: (err?: Error) => void) => void,
  ): unknown;
  addHook(
    name: 'onError',
    hook: (request: FastifyRequestLike, reply: FastifyReplyLike, error: Error, done: () => void) => void,
  ): unknown;
}

/** FastifyContextPlugin is the plugin fastifyContext() returns; register it on the root instance. */
export type FastifyContextPlugin = ((
  instance: FastifyInstanceLike,
  opts: unknown,
  done: (err?: Error) => void,
) => void) & {
  [key: symbol]: unknown;
};

/**
 * fastifyContext returns a Fastify 5 plugin that gives each request a context derived from root, as
 * `request.ctx` (and through currentContext() when opts.asyncLocalStorage is true). Register it with
 * `app.register(fastifyContext(root))`. It is marked skip-override (what fastify-plugin does), so it
 * applies to the whole instance and to every plugin registered after it. It adds an onRequest hook
 * (creates the context) and, with asyncLocalStorage, a preHandler hook (re-enters it, so handlers of
 * requests with a body also see currentContext()). See requestContext for when the context ends.
 * It does not import fastify at run time. A handler that rejects with its request's cancellation or
 * deadline is answered 503 or the timeout status (an onError hook sets it; Fastify's default error
 * handler keeps it), not 500.
 *
 * Its declarations do not augment fastify's types (that would fail to compile where fastify is not
 * installed): read the context with contextOf(request), or add `ctx: Context` to FastifyRequest with
 * the three-line `declare module 'fastify'` shown in docs/http.md.
 */
export function fastifyContext(root: Context, opts?: RequestContextOptions | null): FastifyContextPlugin {
  assertContext(root, 'fastifyContext(root, opts)');
  const o = checkOptions(opts, 'fastifyContext(root, opts)');
  const runWithContext = contextRunner(o.asyncLocalStorage);
  const timeoutStatus = o.timeoutStatus ?? 504;
  const plugin = (instance: FastifyInstanceLike, _opts: unknown, done: (err?: Error) => void) => {
    instance.decorateRequest('ctx', undefined);
    instance.addHook('onRequest', (request, reply, next) => {
      const ctx = createRequestContext(root, request.raw, reply.raw, o);
      request.ctx = ctx;
      runWithContext(ctx, next);
    });
    // A handler that fails with its request's cancellation or deadline: set the status before the
    // error handler runs (Fastify's default one keeps a status set on the reply), so the client gets
    // 503 (cancelled) or the timeout status, not 500. The error itself is left as it is.
    instance.addHook('onError', (_request, reply, error, next) => {
      const status = statusFor(error, timeoutStatus);
      if (status !== 500 && !reply.raw.headersSent) reply.code(status);
      next();
    });
    if (o.asyncLocalStorage === true) {
      instance.addHook('preHandler', (request, _reply, next) => {
        const ctx = request.ctx;
        if (ctx === undefined) next();
        else runWithContext(ctx, next);
      });
    }
    done();
  };
  const marked = plugin as FastifyContextPlugin;
  marked[Symbol.for('skip-override')] = true;
  marked[Symbol.for('fastify.display-name')] = 'leash-context';
  return marked;
}
