// One round trip for a statement under a deadline: `SET statement_timeout`, the statement and
// `RESET statement_timeout` travel in one message and come back with one ReadyForQuery, instead of
// three round trips. Built on node-postgres's own Query class (reached through the client's
// constructor, `Client.Query`, so leash never imports pg), whose protocol calls it extends:
//
// - simple protocol (text without values): one Query message, `SET ...;<text>\n;RESET ...`;
// - extended protocol (values, named statements): Parse/Bind/Execute of the SET, the statement's own
//   Parse/Bind/Describe/Execute, Parse/Bind/Execute of the RESET, then one Sync.
//
// Either way the three run in one implicit transaction when the session is idle: if the statement
// fails, the transaction rolls back and takes the SET with it; inside the caller's own transaction
// block, its ROLLBACK does. The results of the SET and the RESET are dropped, so the caller sees pg's
// usual result. Statements that refuse to run inside a transaction block (VACUUM, CREATE DATABASE,
// CREATE INDEX CONCURRENTLY, ...) fail with SQLSTATE 25001 before doing anything; query() then runs
// them with separate SET/RESET round trips.

import { resetTimeoutSql, setConfigLocalSql, setTimeoutSql } from './budget.js';
import { txStatus } from './session.js';
import type { PgClient } from './types.js';

type Callback = (err: Error | null, result?: unknown) => void;

interface Connection {
  parse(config: { text: string; name?: string }): void;
  bind(config: Record<string, unknown>): void;
  execute(config: { portal?: string; rows?: number }): void;
  describe(config: { type: 'P' | 'S'; name: string }): void;
  sync(): void;
}

interface PgQuery {
  text: string;
  portal: string;
  rows?: number;
  callback?: Callback;
  requiresPreparation(): boolean;
  prepare(connection: Connection): void;
  _getRows(connection: Connection, rows?: number): void;
  handleError(err: Error, connection: Connection): void;
  handleDataRow(msg: unknown): void;
  handleCommandComplete(msg: unknown, connection: Connection): void;
  submit(connection: Connection): unknown;
}

type BoundedQuery = PgQuery & {
  leashMs: number;
  leashLocal: boolean;
  leashReset: boolean;
  leashClient: PgClient | null;
};

type QueryClass = new (config: unknown, values?: unknown, callback?: Callback) => PgQuery;

const classes = new WeakMap<QueryClass, QueryClass>();

/** boundedQueryClass returns the one-round-trip query class for client, or undefined if its pg has no compatible Query. */
function boundedQueryClass(client: PgClient): QueryClass | undefined {
  const Base = (client as unknown as { constructor?: { Query?: unknown } }).constructor?.Query;
  if (typeof Base !== 'function') return undefined;
  const proto = (Base as { prototype?: Partial<PgQuery> }).prototype;
  if (
    typeof proto?.requiresPreparation !== 'function' ||
    typeof proto.prepare !== 'function' ||
    typeof proto._getRows !== 'function' ||
    typeof proto.handleError !== 'function' ||
    typeof proto.handleDataRow !== 'function' ||
    typeof proto.handleCommandComplete !== 'function' ||
    typeof proto.submit !== 'function'
  ) {
    return undefined;
  }
  const cached = classes.get(Base as QueryClass);
  if (cached !== undefined) return cached;
  const Bounded = makeClass(Base as QueryClass);
  classes.set(Base as QueryClass, Bounded);
  return Bounded;
}

function makeClass(Base: QueryClass): QueryClass {
  return class BoundedQuery extends Base {
    leashSet = '';
    leashReset = false;
    leashExtended = false;
    leashPrefix = 0;
    // The SET's answer comes first: its row (set_config returns one) and its CommandComplete are
    // swallowed, so no result object is built for it and the caller's results are pg's own.
    leashSkip = 1;
    leashMs = 0;
    leashLocal = false;
    leashClient: PgClient | null = null;

    // The form is chosen when pg sends the statement, not when query() is called: pg sends it after
    // the previous statement's ReadyForQuery, whose transaction status is only known then (a caller
    // that catches an error inside its block and calls query() at once runs ahead of that message).
    // - idle session: SET LOCAL (simple protocol) or set_config(..., true) (extended), which end with
    //   the statement's implicit transaction;
    // - inside the caller's block: SET before and RESET after;
    // - a failed block: the text alone (only ROLLBACK or COMMIT can run there, and quickly).
    override submit(connection: Connection): unknown {
      const tx = this.leashClient === null ? null : txStatus(this.leashClient);
      if (tx === 'E') {
        this.leashSkip = 0;
        this.leashReset = false;
        return super.submit(connection);
      }
      const local = tx === 'I';
      this.leashLocal = local;
      this.leashReset = !local;
      this.leashSet = setTimeoutSql(this.leashMs, local);
      if (this.requiresPreparation()) {
        // PostgreSQL refuses SET LOCAL outside a transaction block ("SET LOCAL can only be used in
        // transaction blocks", and it has no effect), which an extended-protocol batch is not; but
        // set_config(..., true) sets the value for the current transaction, and the batch up to Sync
        // is one transaction.
        if (local) this.leashSet = setConfigLocalSql(this.leashMs);
        this.leashExtended = true;
      } else {
        const prefix = `${this.leashSet};`;
        this.leashPrefix = prefix.length;
        // A newline ends a trailing `--` comment in the caller's text; its own trailing `;` is harmless.
        this.text = local ? `${prefix}${this.text}` : `${prefix}${this.text}\n;${resetTimeoutSql}`;
      }
      return super.submit(connection);
    }

    override prepare(connection: Connection): void {
      if (this.leashExtended) {
        connection.parse({ text: this.leashSet });
        connection.bind({});
        connection.execute({});
      }
      super.prepare(connection);
    }

    override handleDataRow(msg: unknown): void {
      if (this.leashSkip === 0) super.handleDataRow(msg);
    }

    override handleCommandComplete(msg: unknown, connection: Connection): void {
      if (this.leashSkip > 0) this.leashSkip--;
      else super.handleCommandComplete(msg, connection);
    }

    override _getRows(connection: Connection, rows?: number): void {
      if (!this.leashExtended || !this.leashReset || rows) {
        super._getRows(connection, rows);
        return;
      }
      connection.execute({ portal: this.portal });
      connection.parse({ text: resetTimeoutSql });
      connection.bind({});
      connection.execute({});
      connection.sync();
    }

    override handleError(err: Error, connection: Connection): void {
      // A syntax error's position counts characters of the text sent: give it back in the caller's text.
      const e = err as Error & { position?: unknown };
      if (this.leashPrefix > 0 && typeof e.position === 'string' && /^\d+$/.test(e.position)) {
        const p = Number(e.position) - this.leashPrefix;
        if (p >= 1) e.position = String(p);
      }
      super.handleError(err, connection);
    }
  };
}

/** BoundedSent is a statement sent by sendBounded: whether SET LOCAL was used is known once pg sent it. */
export interface BoundedSent {
  readonly leashLocal: boolean;
}

/**
 * sendBounded runs text (string or QueryConfig) with values on client with statement_timeout = ms
 * for this statement only, in one round trip: `SET LOCAL` before simple-protocol text when the
 * session is idle (the statement's implicit transaction ends the setting), else `SET` before and
 * `RESET` after. `done` gets pg's error or the caller's result (the SET's and RESET's dropped). It
 * returns the statement, or undefined, without sending anything and without calling `done`, when it
 * cannot (not node-postgres, portal paging with `rows`, empty text); the caller then uses separate
 * round trips. Callback style: it runs for every query under a deadline.
 */
export function sendBounded(
  client: PgClient,
  text: unknown,
  values: unknown[] | undefined,
  ms: number,
  done: (err: Error | null, result?: unknown) => void,
): BoundedSent | undefined {
  const Bounded = boundedQueryClass(client);
  if (Bounded === undefined) return undefined;
  const q = new Bounded(text, values, (err, result) => {
    if (err) done(err);
    else done(null, q.leashReset ? stripReset(result) : result);
  }) as BoundedQuery;
  if (q.rows || typeof q.text !== 'string' || !/\S/.test(q.text)) return undefined;
  q.leashMs = ms;
  q.leashClient = client;
  (client as unknown as { query(q: unknown): unknown }).query(q);
  return q;
}

interface ResultLike {
  command: string | null;
  rowCount: number | null;
  rows: unknown[];
  fields: unknown[];
}

/** stripReset drops the RESET's result (the last): what is left is what pg returns for the caller's text. */
export function stripReset(result: unknown): unknown {
  if (!Array.isArray(result)) {
    // Only comments before the RESET: pg's answer to an empty query is an empty result.
    const r = result as ResultLike;
    r.command = null;
    r.rowCount = null;
    r.rows = [];
    r.fields = [];
    return r;
  }
  return result.length === 2 ? result[0] : result.slice(0, -1);
}
