// A million cancelled blocked sends and receives leave the wait queues empty and the heap flat.
// Runs in a child process so that only this workload is on the heap.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('./fixtures/million-cancelled.ts', import.meta.url));

function run(mode: string): { n: number; grown: number; queues: [number, number] } {
  const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fixture, '1000000', mode], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  const line = child.stdout.trim().split('\n').pop() ?? '';
  assert.ok(line.startsWith('{'), `child printed ${JSON.stringify(child.stdout)}; stderr ${child.stderr}`);
  return JSON.parse(line);
}

test('a million cancelled blocked sends and receives leave the queues empty and the heap flat', () => {
  const r = run('cancelled');
  assert.equal(r.n, 1_000_000);
  assert.deepEqual(r.queues, [0, 0]);
  // One retained waiter is over 100 bytes: a per-operation leak would show as 100 MB here.
  assert.ok(r.grown < 1_000_000, `heap grew ${r.grown} bytes`);
});

test('a million completed blocked operations on one long-lived context leave nothing registered', () => {
  const r = run('completed');
  assert.deepEqual(r.queues, [0, 0]);
  assert.ok(r.grown < 1_000_000, `heap grew ${r.grown} bytes`);
});
