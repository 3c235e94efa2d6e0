// One statement run by query(): checked out of a pool (or on the caller's client), sent with its
// server-side budget, cancelled on the server when its context ends, and given back.
//
// query() runs for every statement a service sends, hundreds of them waiting for a pool client at
// once, so the common path is one object: a Statement is the context's registration (a Link, no
// closure), the pool's connect callback and pg's query callback, with no promise but the caller's.
// The rare paths (a client that is not node-postgres, portal paging, empty text; a statement that
// refuses a transaction block) send SET, the statement and RESET as separate round trips through
// the promise-based cancellable() below.

import type { Context } from '../context/index.js';
import { afterFunc, background, remaining } from '../context/index.js';
import { keepShape, type Link, type Outcome, type Owner, tree } from '../context/internal.js';
import { type BoundedSent, sendBounded } from './bounded.js';
import { resetTimeoutSql, setTimeoutSql, statementTimeoutMs } from './budget.js';
import type { CancelTarget } from './cancel-request.js';
import { sendCancelRequest } from './cancel-request.js';
import { ConnectionError, PoolClosedError } from './errors.js';
import {
  type Guard,
  holdGuard,
  isHealthy,
  letGuardGo,
  lostError,
  markLost,
  raw,
  txStatus,
  whileRunning,
} from './session.js';
import type { PgClient, PgPool, PgPoolClient } from './types.js';
import { connectFailure, releaseReason, unqueue } from './with-client.js';

const queryCanceled = '57014';
const inFailedTransaction = '25P02';
const activeSqlTransaction = '25001';
export const where = 'query(ctx, poolOrClient, text, values?, opts?)';

type Release = (err?: Error | boolean) => void;
type ConnectCallback = (err: Error | undefined, client: PgPoolClient | undefined, release: Release) => void;
type QueryCallback = (err: Error | null, result?: unknown) => void;
type PoolState = { ending?: boolean; ended?: boolean };

// Where a Statement is: checking a client out, running, or finished (its caller told).
const ACQUIRING = 0;
const RUNNING = 1;
const FINISHED = 2;

/**
 * @internal
 * Statement runs one query() call. On a pool: the caller's promise settles as soon as ctx ends (the
 * client is leash's alone, so nobody can send it a statement the cancel could hit); the client goes
 * back to the pool only once the server confirmed the cancel (or is destroyed at cancelGraceMs),
 * exactly as when the caller waits. On the caller's client: the promise settles when the statement
 * has (with ctx.err if ctx ended), after the cancel landed, so the client is safe to reuse.
 */
export class Statement implements Link {
  _prev: Link | null = null;
  _next: Link | null = null;
  _owner: Owner | null = null;

  readonly #ctx: Context;
  readonly #pool: PgPool | null;
  #client: PgClient | null;
  readonly #text: unknown;
  readonly #values: unknown[] | undefined;
  readonly #graceMs: number;
  readonly #resolve: (v: unknown) => void;
  readonly #reject: (e: unknown) => void;
  #phase = ACQUIRING;
  // The caller's promise has settled (on a pool, at once when ctx ends).
  #told = false;
  // pg answered the statement: a cancel request must not be sent any more.
  #answered = false;
  #release: Release | null = null;
  #guard: Guard | null = null;
  #sent: BoundedSent | undefined = undefined;
  #limited = false;
  #cancelling: Promise<void> | undefined = undefined;
  #grace: NodeJS.Timeout | undefined = undefined;
  // Bound once per statement that needs them (pg-pool matches its waiter by callback identity).
  #onConnect: ConnectCallback | null = null;
  readonly #onAnswer: QueryCallback;
  readonly #onBreak: () => void;

  constructor(
    ctx: Context,
    pool: PgPool | null,
    client: PgClient | null,
    text: unknown,
    values: unknown[] | undefined,
    graceMs: number,
    resolve: (v: unknown) => void,
    reject: (e: unknown) => void,
  ) {
    this.#ctx = ctx;
    this.#pool = pool;
    this.#client = client;
    this.#text = text;
    this.#values = values;
    this.#graceMs = graceMs;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#onAnswer = (err, result) => this.#answer(err, result);
    this.#onBreak = () => this.#cancel();
  }

  /** start checks a client out of the pool, or runs on the caller's client. */
  start(): void {
    const ctx = this.#ctx;
    if (ctx.err !== undefined) {
      this.#finish(ctx.err, undefined);
      return;
    }
    const pool = this.#pool;
    if (pool === null) {
      this.#guard = holdGuard(this.#client as PgClient);
      tree.propagate(this, ctx);
      if (this.#phase === ACQUIRING) this.#run();
      return;
    }
    const state = pool as unknown as PoolState;
    if (state.ending || state.ended) {
      this.#finish(new PoolClosedError(), undefined);
      return;
    }
    tree.propagate(this, ctx);
    if (this.#phase !== ACQUIRING) return;
    const onConnect: ConnectCallback = (err, c, release) => this.#connected(err, c, release);
    this.#onConnect = onConnect;
    try {
      (pool.connect as (cb: ConnectCallback) => void)(onConnect);
    } catch (err) {
      if (this.#phase === ACQUIRING) this.#finish(err, undefined);
    }
  }

  /** @internal The context is done: told synchronously by the cancel tree; acted on in a microtask, as afterFunc does. */
  _parentDone(_o: Outcome): void {
    this._owner = null;
    queueMicrotask(() => this.#ended());
  }

  #ended(): void {
    const err = this.#ctx.err;
    if (this.#phase === ACQUIRING) {
      // Still waiting for a client (or about to run on the caller's): leave the pool's queue.
      this.#phase = FINISHED;
      if (this.#pool !== null) unqueue(this.#pool, this.#onConnect);
      this.#tell(err, undefined);
      return;
    }
    if (this.#phase !== RUNNING) return;
    if (this.#pool !== null) this.#tell(err, undefined);
    if (this.#answered) return;
    this.#cancel();
    const client = this.#client as PgClient;
    this.#grace = setTimeout(() => destroyConnection(client), this.#graceMs);
  }

  #connected(err: Error | undefined, client: PgPoolClient | undefined, release: Release): void {
    if (this.#phase !== ACQUIRING) {
      // The context ended first and the waiter could not be unqueued: give the client back.
      if (client !== undefined) release();
      return;
    }
    if (err !== undefined || client === undefined) {
      this.#finish(connectFailure(this.#pool as PgPool, err, where), undefined);
      return;
    }
    this.#client = client;
    this.#release = release;
    this.#guard = holdGuard(client);
    this.#run();
  }

  #run(): void {
    this.#phase = RUNNING;
    const ctx = this.#ctx;
    const client = this.#client as PgClient;
    if (ctx.err !== undefined) {
      this.#finish(ctx.err, undefined);
      return;
    }
    const broken = lostError(client);
    if (broken !== undefined) {
      this.#finish(connectionLost(broken, 'before the statement was sent'), undefined);
      return;
    }
    // Budgets come from remaining(ctx), which reads the monotonic clock: a wall-clock step changes nothing.
    const ms = statementTimeoutMs(remaining(ctx));
    // In a failed transaction block only ROLLBACK/COMMIT run (and they are quick): no SET there.
    const limited = ms !== 0 && txStatus(client) !== 'E';
    this.#limited = limited;
    const guard = this.#guard as Guard;
    guard.onBreak = this.#onBreak;
    if (limited) {
      // One message: SET LOCAL in an idle session, SET and RESET inside the caller's block, the
      // text alone in a failed block; bounded.ts chooses when pg sends it.
      try {
        this.#sent = sendBounded(client, this.#text, this.#values, ms, this.#onAnswer);
      } catch (err) {
        this.#answer(err as Error, undefined);
        return;
      }
      if (this.#sent !== undefined) return;
      // Not node-postgres, portal paging, empty text: SET, the statement and RESET as separate
      // round trips, on the promise path.
      guard.onBreak = null;
      const text = this.#text;
      const values = this.#values;
      this.#slow(
        cancellable(ctx, client, () => separate(ctx, client, text, values, ms), true, this.#graceMs),
      );
      return;
    }
    try {
      (raw(client).query as (t: unknown, v: unknown, cb: QueryCallback) => void)(
        this.#text,
        this.#values,
        this.#onAnswer,
      );
    } catch (err) {
      this.#answer(err as Error, undefined);
    }
  }

  /**
   * The rare path: cancellable()'s promise settles the statement and cancels it on its own; the
   * registration stays only to tell a pool's caller at once when ctx ends.
   */
  #slow(p: Promise<unknown>): void {
    this.#answered = true;
    p.then(
      (v) => this.#finish(undefined, v),
      (e: unknown) => this.#finish(e, undefined),
    );
  }

  /** A cancel request stops whatever the backend runs when it lands: only while this statement runs. */
  #cancel(): void {
    if (this.#answered || this.#cancelling !== undefined) return;
    this.#cancelling = sendCancelRequest(
      raw(this.#client as PgClient) as CancelTarget,
      Math.max(1, this.#graceMs),
    );
  }

  #answer(err: Error | null, result: unknown): void {
    if (this.#answered) return;
    this.#answered = true;
    if (this._owner !== null) tree.unlink(this);
    if (this.#grace !== undefined) clearTimeout(this.#grace);
    const guard = this.#guard as Guard;
    if (guard.onBreak === this.#onBreak) guard.onBreak = null;
    if (err === null && this.#cancelling === undefined) {
      this.#finish(undefined, result);
      return;
    }
    void this.#settle(err, result);
  }

  /** Errors, and answers that raced a cancel request: what happens after pg answered. */
  async #settle(answer: Error | null, result: unknown): Promise<void> {
    const ctx = this.#ctx;
    const client = this.#client as PgClient;
    let err: unknown = answer;
    try {
      if (answer !== null) {
        if (ctx.err !== undefined) err = ctx.err;
        else {
          const broken = lostError(client);
          if (broken !== undefined) err = connectionLost(broken, 'while the statement ran');
          else if (this.#limited && isStatementTimeout(answer) && remaining(ctx) < 50) {
            // Our own statement_timeout fired a hair before the context's deadline timer (it was at
            // most the remaining budget when sent): wait for the deadline, then report it rather
            // than pg's 57014. Bounded, for a foreign context whose deadline might never fire;
            // generous, because a loaded event loop runs the deadline timer late.
            await Promise.race([ctx.done, delay(remaining(ctx) + 2_000)]);
            if (ctx.err !== undefined) err = ctx.err;
          }
        }
      }
      // The server closes the cancel connection only after it signalled the backend; an idle backend
      // drops the signal, so once this resolves the client is safe to reuse. A client whose
      // connection broke (or was destroyed at the grace deadline) is never reused: no need to wait.
      if (this.#cancelling !== undefined && isHealthy(client)) await this.#cancelling;
      if (answer === null) {
        this.#finish(undefined, result);
        return;
      }
      const sent = this.#sent;
      if (sent !== undefined && isHealthy(client)) {
        const local = sent.leashLocal;
        const code = (err as { code?: unknown }).code;
        // VACUUM and friends refuse to run in the implicit transaction: they did nothing; run them alone.
        if (code === activeSqlTransaction && local && ctx.err === undefined) {
          const again = statementTimeoutMs(remaining(ctx));
          return this.#finish(
            undefined,
            await cancellable(
              ctx,
              client,
              () => separate(ctx, client, this.#text, this.#values, again),
              true,
              this.#graceMs,
            ),
          );
        }
        // SET LOCAL ended with the implicit transaction. A session SET was rolled back with the
        // failed statement's transaction (or will be by the caller's ROLLBACK), unless the error
        // was raised in this process (a value pg could not serialize): then it may still be set.
        if (
          !local &&
          typeof (err as { severity?: unknown }).severity !== 'string' &&
          txStatus(client) !== 'E'
        ) {
          await resetTimeout(client);
        }
      }
    } catch (e) {
      err = e;
    }
    this.#finish(err, undefined);
  }

  /** The statement is over: the client goes back to the pool, the caller is told. */
  #finish(err: unknown, result: unknown): void {
    this.#phase = FINISHED;
    if (this._owner !== null) tree.unlink(this);
    const guard = this.#guard;
    if (guard !== null) {
      this.#guard = null;
      letGuardGo(this.#client as PgClient, guard);
    }
    const release = this.#release;
    if (release !== null) {
      this.#release = null;
      const client = this.#client as PgClient;
      release(releaseReason(client));
    }
    this.#tell(err, result);
  }

  #tell(err: unknown, result: unknown): void {
    if (this.#told) return;
    this.#told = true;
    if (err === undefined) this.#resolve(result);
    else this.#reject(err);
  }
}

function send(client: PgClient, text: unknown, values: unknown[] | undefined): Promise<unknown> {
  return raw(client).query(text, values);
}

/** separate: SET, the statement, RESET as three round trips (the fallback). */
async function separate(
  ctx: Context,
  client: PgClient,
  text: unknown,
  values: unknown[] | undefined,
  ms: number,
): Promise<unknown> {
  await raw(client).query(setTimeoutSql(ms));
  try {
    if (ctx.err !== undefined) throw ctx.err;
    return await send(client, text, values);
  } finally {
    await resetTimeout(client);
  }
}

function connectionLost(cause: Error, when: string): ConnectionError {
  return new ConnectionError(
    `${where}: the connection to PostgreSQL broke ${when} (${cause.message}); the client was discarded and the statement's outcome is unknown`,
    cause,
  );
}

async function cancellable(
  ctx: Context,
  client: PgClient,
  run: () => Promise<unknown>,
  limited: boolean,
  graceMs: number,
): Promise<unknown> {
  // A cancel request stops whatever the backend runs when the signal lands, so it must never be
  // sent after this statement settled, and one already on its way must have landed before the
  // client runs anything else (the next statement, another request's query).
  let settled = false;
  let cancelling: Promise<void> | undefined;
  let grace: NodeJS.Timeout | undefined;
  const cancel = () => {
    if (settled || cancelling !== undefined) return;
    cancelling = sendCancelRequest(raw(client) as CancelTarget, Math.max(1, graceMs));
  };
  // pg emits 'error' on a client whose connection broke; a pool client has no listener while it is
  // checked out, so without this one the process would die. The statement may still run on the
  // server (only this connection broke): a best-effort cancel request stops it. It cannot hit
  // another session: the backend's key pair is its own, and its session is gone.
  const running = whileRunning(client, cancel);
  const stop = afterFunc(ctx, () => {
    if (settled) return;
    cancel();
    grace = setTimeout(() => destroyConnection(client), graceMs);
  });
  try {
    return await run();
  } catch (err) {
    settled = true; // already here: the deadline may fire during the sleep below
    if (ctx.err !== undefined) throw ctx.err;
    const broken = lostError(client);
    if (broken !== undefined) throw connectionLost(broken, 'while the statement ran');
    if (limited && isStatementTimeout(err) && remaining(ctx) < 50) {
      await Promise.race([ctx.done, delay(remaining(ctx) + 2_000)]);
      if (ctx.err !== undefined) throw ctx.err;
    }
    throw err;
  } finally {
    settled = true;
    stop();
    if (grace !== undefined) clearTimeout(grace);
    running();
    if (cancelling !== undefined && isHealthy(client)) await cancelling;
  }
}

/** isStatementTimeout: SQLSTATE 57014 (the message, which says why, may be translated). */
function isStatementTimeout(err: unknown): boolean {
  return (err as { code?: unknown }).code === queryCanceled;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

async function resetTimeout(client: PgClient): Promise<void> {
  if (!isHealthy(client)) return;
  // A cancel request is asynchronous on the server: in a rare race it lands on this RESET instead
  // of the statement it was meant for. One retry covers that race.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await raw(client).query(resetTimeoutSql);
      return;
    } catch (err) {
      const code = (err as { code?: string }).code;
      // The caller's block failed while the statement ran (its status is known only once pg sends
      // the RESET): a SET inside a block is transactional, so the caller's ROLLBACK undoes it.
      if (code === inFailedTransaction) return;
      if (code !== queryCanceled) throw err;
    }
  }
}

/**
 * destroyConnection ends a client whose server did not stop the statement within the grace period.
 * pg then emits 'error' ("Connection terminated unexpectedly"), which markLost's listener absorbs;
 * the caller learns of the cancel through the query's rejection with ctx.err, and the pool drops the
 * client when it is released.
 */
function destroyConnection(client: PgClient): void {
  const stream = raw(client).connection?.stream;
  if (stream === undefined) return;
  markLost(client, new Error('the connection was destroyed: the server did not answer the cancel request'));
  stream.destroy();
}

// One statement per query, dropped when it settles: keep the layout across a full GC in a quiet
// moment (context/keep-shape.ts). Constructing one sends nothing.
keepShape(new Statement(background(), null, null, '', undefined, 0, noopSettle, noopSettle));

function noopSettle(_: unknown): void {}
