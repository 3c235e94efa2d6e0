// The server-side budget of a statement: pure, unit-tested in budget.test.ts.

/** PostgreSQL's largest statement_timeout (an int of milliseconds). */
export const maxStatementTimeoutMs = 2_147_483_647;

/**
 * statementTimeoutMs turns the context's remaining budget (ms, from remaining(ctx), possibly
 * fractional) into the statement_timeout to send: whole milliseconds rounded down, so the server's
 * backstop never outlives the context; at least 1, because 0 means "no limit"; at most PostgreSQL's
 * maximum, which a far deadline would otherwise exceed (the SET would fail). Infinity (no deadline)
 * gives 0: no statement_timeout is sent.
 */
export function statementTimeoutMs(remainingMs: number): number {
  if (remainingMs === Number.POSITIVE_INFINITY) return 0;
  if (!(remainingMs >= 1)) return 1; // also NaN and negatives
  return Math.min(maxStatementTimeoutMs, Math.floor(remainingMs));
}

/**
 * setTimeoutSql is the statement that sets statement_timeout (ms must come from statementTimeoutMs):
 * for the session, or with `local` for the current transaction only (SET LOCAL).
 */
export function setTimeoutSql(ms: number, local = false): string {
  if (!Number.isInteger(ms) || ms < 1 || ms > maxStatementTimeoutMs) {
    throw new RangeError(
      `statement_timeout must be an integer from 1 to ${maxStatementTimeoutMs}, got ${ms}`,
    );
  }
  return `SET ${local ? 'LOCAL ' : ''}statement_timeout = ${ms}`;
}

/** setConfigLocalSql is SET LOCAL as a function call, which an extended-protocol batch accepts. */
export function setConfigLocalSql(ms: number): string {
  setTimeoutSql(ms); // the same range check
  return `SELECT set_config('statement_timeout', '${ms}', true)`;
}

export const resetTimeoutSql = 'RESET statement_timeout';
