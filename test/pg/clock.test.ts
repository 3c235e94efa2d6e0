// Budgets come from the monotonic clock: a wall-clock step (NTP, a VM resumed, an operator) between
// creating a context and running a query changes neither the statement_timeout leash sends nor
// whether the query runs. The wall clock is faked with a Date.now override in a child process.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pgConfig, postgresUp, skipReason } from './postgres.js';

const up = await postgresUp();
const fixture = fileURLToPath(new URL('./fixtures/clock-step.ts', import.meta.url));

function ms(setting: unknown): number {
  const m = /^(\d+)(ms|s)$/.exec(String(setting));
  assert.ok(m, `statement_timeout ${String(setting)}`);
  return Number(m[1]) * (m[2] === 's' ? 1000 : 1);
}

for (const [name, step] of [
  ['back 10 s', -10_000],
  ['forward 1 hour', 3_600_000],
] as const) {
  test(`the wall clock steps ${name}: statement_timeout is still the remaining budget of a 2 s context`, async (t) => {
    if (!up) return t.skip(skipReason);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', fixture, String(step)],
      {
        env: { ...process.env, LEASH_PG_CONFIG: JSON.stringify(pgConfig) },
        timeout: 20_000,
      },
    );
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    assert.equal(out.error, undefined, `the queries ran: ${out.error}`);
    for (const key of ['text', 'values']) {
      const v = ms(out[key]);
      assert.ok(
        v > 1000 && v <= 2000,
        `${key}: statement_timeout ${v} ms for a 2000 ms budget after the step`,
      );
    }
  });
}
