// leashjs/chaos: seeded, context-scoped fault injection (latency, errors, hangs until the context
// ends, dropped connections, CPU burn) as a resilience Policy, as middleware for node:http, Express,
// Fastify and Koa, and around leashjs/http's fetch and leashjs/pg's query, switched at run time.
// None of it imports a framework or pg at run time. This file lists the layer's public names.
export type { ChaosDecision, ChaosJSON, HeaderSource } from './controller.js';
export { ChaosController, chaosController } from './controller.js';
export { ChaosError, type ChaosFault } from './errors.js';
export type { ChaosInjectedEvent, ChaosVia } from './events.js';
export { type ChaosFastifyInstanceLike, type ChaosFastifyPlugin, chaosFastify } from './fastify.js';
export { type ChaosFetch, chaosFetch } from './fetch.js';
export { type ChaosHandler, type ChaosHandlerOptions, chaosHandler } from './handler.js';
export { type ChaosKoaContextLike, type ChaosKoaMiddleware, chaosKoa } from './koa.js';
export { type ChaosMiddleware, chaosMiddleware, withChaos } from './middleware.js';
export { type ChaosQuery, chaosQuery } from './pg.js';
export { ChaosPolicy, chaos } from './policy.js';
export { mulberry32 } from './prng.js';
export type {
  ChaosSpec,
  ChaosTarget,
  CpuFault,
  DropFault,
  ErrorFault,
  FaultSpec,
  HangFault,
  LatencyFault,
} from './spec.js';
