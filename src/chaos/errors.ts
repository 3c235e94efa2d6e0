// The error chaos injects when a fault asks for one and the spec names no error of its own.

/** ChaosFault names a kind of fault chaos can inject. */
export type ChaosFault = 'latency' | 'error' | 'hang' | 'drop' | 'cpu';

/**
 * ChaosError is what an injected `error` fault rejects with (unless the fault names its own error),
 * and what an injected `drop` rejects a call with where there is no socket to destroy (a policy).
 * Code: LEASH_ERR_CHAOS, stable across releases. `fault` says which fault made it; `status` (also
 * as `statusCode`, which Fastify reads, and with `expose`, which Koa reads) is the HTTP status a
 * framework answers with. A new instance per injection, so a framework may decorate it.
 */
export class ChaosError extends Error {
  /** code is stable across releases: `'LEASH_ERR_CHAOS'`. */
  readonly code = 'LEASH_ERR_CHAOS';
  /** fault is the kind of fault that produced this error. */
  readonly fault: ChaosFault;
  /** status is the HTTP status for a server to answer with (default 500; 502 for a drop). */
  status: number;
  /** statusCode is `status`, under the name Fastify reads. */
  statusCode: number;
  /** expose lets Koa show the message to the client: it names the injected fault, nothing secret. */
  expose = true;
  constructor(message: string, fault: ChaosFault, status: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ChaosError';
    this.fault = fault;
    this.status = status;
    this.statusCode = status;
  }
}
