// What leash knows about a pg client beyond its public API: whether its connection broke, and the
// internal fields it reads (node-postgres 8). One place, so a pg upgrade has one file to check.

import type { PgClient } from './types.js';

/** Internal view of a node-postgres Client (fields read defensively: any may be missing). */
export interface RawClient {
  query(config: unknown, values?: unknown): Promise<unknown> & unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  removeListener(event: 'error', listener: (err: Error) => void): unknown;
  readonly host: string;
  readonly port: number;
  readonly processID: number | null;
  readonly secretKey: number | null;
  readonly _ending?: boolean;
  readonly _ended?: boolean;
  readonly _queryable?: boolean;
  readonly _connectionError?: boolean;
  readonly _txStatus?: string | null;
  readonly connection?: { stream?: { destroy(): void } };
  getTransactionStatus?(): string | null;
}

export function raw(client: PgClient): RawClient {
  return client as unknown as RawClient;
}

// The first error that broke each client's connection, as pg reported it.
const lost = new WeakMap<object, Error>();

/** lostError is the error that broke client's connection, if leash saw it break. */
export function lostError(client: PgClient): Error | undefined {
  return lost.get(client);
}

/**
 * markLost records that client's connection broke. pg emits 'error' on a client once per failure
 * and can emit again for the same dead connection (the socket's error, then its end); an 'error'
 * with no listener kills the process. So the first time, the client gets a permanent listener that
 * ignores the rest: it is dead, leash reported the failure to whoever was using it, and a pool drops it.
 */
export function markLost(client: PgClient, err: Error): void {
  if (lost.has(client)) return;
  lost.set(client, err);
  raw(client).on('error', ignoreAfterLoss);
}

function ignoreAfterLoss(): void {}

/**
 * Guard is leash's hold on a client's 'error' events: while anyone holds it (a checkout, a running
 * query), one listener is on the client, and a connection that breaks is recorded (markLost) and
 * the running statement's onBreak is called. One Guard per client, made the first time and kept
 * with it (a WeakMap entry): holding and letting go add and remove the listener, nothing else.
 */
export class Guard {
  holders = 0;
  /** onBreak is what to do if the connection breaks while a statement runs (send a cancel), or null. */
  onBreak: (() => void) | null = null;
  readonly listener: (err: Error) => void;

  constructor(client: PgClient) {
    this.listener = (err: Error) => {
      markLost(client, err);
      this.onBreak?.();
    };
  }
}

const guards = new WeakMap<object, Guard>();

/** holdGuard starts (or joins) listening to client's 'error' events; pair it with letGuardGo. */
export function holdGuard(client: PgClient): Guard {
  let g = guards.get(client);
  if (g === undefined) {
    g = new Guard(client);
    guards.set(client, g);
  }
  if (g.holders++ === 0) raw(client).on('error', g.listener);
  return g;
}

/** letGuardGo ends one holdGuard(); the listener goes when the last holder lets go. */
export function letGuardGo(client: PgClient, g: Guard): void {
  if (--g.holders === 0) raw(client).removeListener('error', g.listener);
}

/** guardClient is holdGuard with a release function that may be called more than once. */
export function guardClient(client: PgClient): () => void {
  const g = holdGuard(client);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    letGuardGo(client, g);
  };
}

/**
 * whileRunning registers onBreak for the statement about to run on client, and makes sure a broken
 * connection is noticed. Call the returned function when the statement settled.
 */
export function whileRunning(client: PgClient, onBreak: () => void): () => void {
  const g = holdGuard(client);
  g.onBreak = onBreak;
  return () => {
    if (g.onBreak === onBreak) g.onBreak = null;
    letGuardGo(client, g);
  };
}

/** isHealthy reports whether a pg client can still run queries (not ended, not errored). */
export function isHealthy(client: PgClient): boolean {
  const c = raw(client);
  return (
    !lost.has(client) &&
    c._ending !== true &&
    c._ended !== true &&
    c._queryable !== false &&
    c._connectionError !== true
  );
}

/** txStatus is the client's transaction status from its last ReadyForQuery: 'I' idle, 'T' in a block, 'E' failed block. */
export function txStatus(client: PgClient): string | null {
  const c = raw(client);
  try {
    if (typeof c.getTransactionStatus === 'function') return c.getTransactionStatus() ?? null;
  } catch {}
  return typeof c._txStatus === 'string' ? c._txStatus : null;
}
