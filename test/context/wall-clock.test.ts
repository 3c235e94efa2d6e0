// Issue 9 / DESIGN.md core rules: deadlines run on the monotonic clock, as Go's do. A step of the
// system clock (NTP, a resumed VM, an operator) must change no timeout and no remaining budget.
// The fixture fakes the step by replacing Date.now in a child process; it imports the built
// package (run `npm run build` first).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('./fixtures/wall-clock-step.ts', import.meta.url));

interface Result {
  clockBack: {
    err?: string;
    firedAt?: number;
    remainingAfterStep: number;
    remainingAtEnd: number;
  };
  clockForward: { err?: string; remainingAfterStep: number };
  sleepBack: { outcome: string; elapsed: number };
  deadlineBack: { err?: string; deadlineUnchanged: boolean; elapsed: number };
}

let result: Promise<Result> | undefined;
function scenarios(): Promise<Result> {
  result ??= run(process.execPath, ['--import', 'tsx', fixture], { timeout: 30_000 }).then(
    ({ stdout }) => JSON.parse(stdout.trim().split('\n').pop() as string) as Result,
  );
  return result;
}

test('withTimeout: the wall clock stepping back 10 s does not postpone the deadline', async () => {
  const { clockBack: r } = await scenarios();
  assert.equal(r.err, 'TimeoutError', 'err is set within 300 ms of a 50 ms timeout');
  assert.ok(r.firedAt !== undefined && r.firedAt >= 45, `fired after ${r.firedAt} ms`);
  assert.ok(r.remainingAfterStep <= 50, `remaining() was ${r.remainingAfterStep} ms after the step`);
  assert.equal(r.remainingAtEnd, 0);
});

test('remaining: the wall clock stepping forward 10 s does not use up the budget', async () => {
  const { clockForward: r } = await scenarios();
  assert.equal(r.err, undefined, 'not expired by the step');
  assert.ok(
    r.remainingAfterStep > 900 && r.remainingAfterStep <= 1_000,
    `remaining() was ${r.remainingAfterStep} ms`,
  );
});

test('sleep on a context with a deadline rejects at the deadline despite a step back', async () => {
  const { sleepBack: r } = await scenarios();
  assert.equal(r.outcome, 'TimeoutError');
  assert.ok(r.elapsed < 900, `rejected after ${r.elapsed} ms`);
});

test('withDeadline: the epoch deadline is read once; a later step moves neither the timer nor ctx.deadline', async () => {
  const { deadlineBack: r } = await scenarios();
  assert.equal(r.err, 'TimeoutError');
  assert.equal(r.deadlineUnchanged, true);
});
