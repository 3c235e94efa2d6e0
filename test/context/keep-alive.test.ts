// The keep-alive rule of docs/architecture.md, tested in real child processes with nothing else alive: a
// deadline nothing waits on does not keep the process alive, but a leash wait on a context with a
// deadline does, until the deadline passes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('./fixtures/keep-alive.ts', import.meta.url));

async function scenario(name: string): Promise<{ outcome: string; elapsed: number; wall: number }> {
  const t0 = Date.now();
  const { stdout } = await run(process.execPath, ['--import', 'tsx', fixture, name], { timeout: 20_000 });
  const line = stdout.trim().split('\n').pop() as string;
  return { ...JSON.parse(line), wall: Date.now() - t0 };
}

test('a deadline that nothing waits on does not keep the process alive', async () => {
  const r = await scenario('idle-deadline');
  assert.equal(r.outcome, 'registered');
  assert.ok(r.wall < 4_000, `the process lived ${r.wall} ms: the 5 s deadline kept it alive`);
});

for (const [name, want] of [
  ['sleep-infinity', 'rejected TimeoutError'],
  ['abortable-forever', 'rejected TimeoutError'],
  ['await-done', 'done TimeoutError'],
] as const) {
  test(`${name}: a wait on a deadline keeps the process alive until the deadline`, async () => {
    const r = await scenario(name);
    assert.equal(r.outcome, want);
    assert.ok(r.elapsed >= 280, `settled after ${r.elapsed} ms, before the 300 ms deadline`);
  });
}

test('a wait that ended releases its hold at once', async () => {
  const r = await scenario('cancelled-wait');
  assert.equal(r.outcome, 'released');
  assert.ok(r.wall < 4_000, `the process lived ${r.wall} ms after its only wait ended`);
});
