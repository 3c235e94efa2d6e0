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

// Clients whose 'error' events leash listens to, with how many holders (a checkout, a running query).
const guards = new WeakMap<object, { holders: number; listener: (err: Error) => void }>();
// What to do when the connection of a client breaks while a statement runs on it (send a cancel).
const inflight = new WeakMap<object, () => void>();

/** onConnectionError is the 'error' listener leash puts on a client it holds. */
export function onConnectionError(client: PgClient, err: Error): void {
  markLost(client, err);
  inflight.get(client)?.();
}

/** guardClient listens to client's 'error' events until every holder called its returned function. */
export function guardClient(client: PgClient): () => void {
  let g = guards.get(client);
  if (g === undefined) {
    const listener = (err: Error) => onConnectionError(client, err);
    g = { holders: 0, listener };
    guards.set(client, g);
    raw(client).on('error', listener);
  }
  g.holders++;
  const held = g;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--held.holders > 0) return;
    guards.delete(client);
    raw(client).removeListener('error', held.listener);
  };
}

/**
 * whileRunning registers onBreak for the statement about to run on client, and makes sure a broken
 * connection is noticed (one shared listener per client). Call the returned function when the statement settled.
 */
export function whileRunning(client: PgClient, onBreak: () => void): () => void {
  inflight.set(client, onBreak);
  const unguard = guardClient(client);
  return () => {
    if (inflight.get(client) === onBreak) inflight.delete(client);
    unguard();
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
