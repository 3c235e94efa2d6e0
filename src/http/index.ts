// leashjs/http: per-request contexts for node:http, Express, Fastify and Koa; deadline, request id and
// traceparent propagation; a context-bound fetch; graceful shutdown. None of the adapters imports its
// framework at run time, and none of the declarations names a framework's types, so this module loads
// and type-checks without express, fastify or koa (or their @types) installed.
export { contextOf, currentContext } from './current-context.js';
export { ClientGoneError, ResponseFinishedError, responseFinished, ServerShutdownError } from './errors.js';
export type { ExpressContextMiddleware } from './express.js';
export { expressContext } from './express.js';
export type {
  FastifyContextPlugin,
  FastifyInstanceLike,
  FastifyReplyLike,
  FastifyRequestLike,
} from './fastify.js';
export { fastifyContext } from './fastify.js';
export { fetch } from './fetch.js';
export type { KoaContextLike, KoaContextMiddleware, LeashState } from './koa.js';
export { koaContext } from './koa.js';
export type {
  ContextHandler,
  ContextRequest,
  HandlerErrorHandler,
  WithContextOptions,
} from './node-handler.js';
export { withContext } from './node-handler.js';
export type { RequestContextOptions } from './request-context.js';
export { requestContext } from './request-context.js';
export type {
  HandlerErrorEvent,
  RequestEndEvent,
  RequestEvent,
  RequestStartEvent,
} from './request-events.js';
export { requestIdKey } from './request-id.js';
export { parseRequestTimeout } from './request-timeout.js';
export type { ServeOptions, ShutdownReport } from './serve.js';
export { serve } from './serve.js';
export type { TraceContext } from './traceparent.js';
export { parseTraceparent, traceparentKey } from './traceparent.js';
