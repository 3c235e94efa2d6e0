// Minimal structural types for what leashjs/pg needs from node-postgres. `pg` is an optional peer and
// the shipped .d.ts must compile in a project without `pg` or `@types/pg` installed, so nothing here
// imports them; a pg Pool, Client or PoolClient (and their @types/pg types) fits these shapes.

/** PgClient is the part of a pg `Client` or `PoolClient` leash uses. */
export interface PgClient {
  query(...args: never[]): unknown;
}

/** PgPoolClient is a client checked out of a pool: a PgClient with `release()`. */
export interface PgPoolClient extends PgClient {
  release(err?: Error | boolean): void;
}

/** PgPool is the part of a pg `Pool` leash uses. */
export interface PgPool {
  connect(...args: never[]): unknown;
  query(...args: never[]): unknown;
  readonly totalCount: number;
  readonly idleCount: number;
}

/** PoolClientOf is the client type a pool hands out: pg's `PoolClient` for a pg `Pool`, else PgPoolClient. */
export type PoolClientOf<P> = P extends {
  connect(callback: (err: never, client: infer C, ...rest: never[]) => void): void;
}
  ? Exclude<C, undefined> extends PgPoolClient
    ? Exclude<C, undefined>
    : PgPoolClient
  : PgPoolClient;

/** PgQueryConfig is a pg `QueryConfig`: the SQL text and, optionally, values and pg's other settings. */
export interface PgQueryConfig {
  readonly text: string;
  readonly values?: readonly unknown[];
  readonly name?: string;
  readonly rowMode?: 'array';
  readonly types?: unknown;
  readonly queryMode?: 'extended';
}

/** PgFieldDef describes one result column, as pg's `FieldDef`. */
export interface PgFieldDef {
  name: string;
  tableID: number;
  columnID: number;
  dataTypeID: number;
  dataTypeSize: number;
  dataTypeModifier: number;
  format: string;
}

/** PgRow is a result row keyed by column name, as pg's `QueryResultRow` (values are whatever pg's type parsers made). */
// biome-ignore lint/suspicious/noExplicitAny: the same row type as pg's QueryResultRow, so rows[0].n works untyped
export type PgRow = { [column: string]: any };

/** PgQueryResult is what a statement returns, as pg's `QueryResult<R>`. */
export interface PgQueryResult<R = PgRow> {
  command: string;
  rowCount: number | null;
  oid: number;
  fields: PgFieldDef[];
  rows: R[];
}
