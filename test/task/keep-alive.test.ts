// docs/architecture.md, deadline timers: `await ch.recv(ctx)` on a silent channel under a deadline, in a
// process with nothing else alive, rejects at the deadline instead of letting the process exit.
// Each case runs in a fresh child process so nothing else keeps the event loop alive.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('./fixtures/recv-deadline.ts', import.meta.url));

function run(
  op: string,
  ms: number,
): { result: string; name?: string; elapsed: number; status: number | null } {
  const child = spawnSync(process.execPath, ['--import', 'tsx', fixture, op, String(ms)], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  const line = child.stdout.trim().split('\n').pop() ?? '';
  assert.ok(line.startsWith('{'), `child printed ${JSON.stringify(child.stdout)}; stderr ${child.stderr}`);
  return { ...JSON.parse(line), status: child.status };
}

describe('blocked operations keep the process alive until their deadline', () => {
  for (const op of ['recv', 'send', 'select', 'task', 'group']) {
    test(`${op} on a silent channel rejects with DeadlineExceededError at the deadline`, () => {
      const r = run(op, 300);
      assert.equal(r.result, 'rejected');
      assert.equal(r.name, 'TimeoutError');
      assert.ok(r.elapsed >= 280, `rejected after ${r.elapsed} ms, before the 300 ms deadline`);
      assert.ok(r.elapsed < 5_000, `rejected after ${r.elapsed} ms`);
      assert.equal(r.status, 0);
    });
  }

  for (const op of ['range', 'ticker']) {
    test(`${op} loop ends quietly at the deadline`, () => {
      const r = run(op, 300);
      assert.equal(r.result, 'resolved');
      assert.ok(r.elapsed >= 280, `ended after ${r.elapsed} ms`);
    });
  }
});
