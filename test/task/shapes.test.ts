// context/keep-shape.ts: a full garbage collection while no derived context, channel operation,
// select or task is alive must not throw away the code compiled for them. Without the kept
// instances, V8 frees the classes' maps at that collection and deoptimizes the whole hot path
// ("reason: weak objects"), and the next burst runs about twice as slow until V8 compiles it
// again (bench/task.bench.ts measures the cost; this test checks the cause, which timing cannot
// do reliably). Runs a child under --trace-deopt, which prints each deoptimization with its reason.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('./fixtures/gc-between-bursts.ts', import.meta.url));

// The functions on the hot paths the fixture drives: leashjs/task's hand-off, and the core's
// derive and cancel (the child imports the sources, so V8 sees these names).
const HOT = new Set([
  'send',
  'recv',
  '#recv',
  '#take',
  '#offer',
  '#block',
  '_poll',
  'get closed',
  'select',
  'win',
  'Waiter',
  'Blocker',
  'block',
  'unblock',
  'push',
  'remove',
  'takeLive',
  'add',
  'unlink',
  'wakeSender',
  'wakeReceiver',
  'go',
  'run',
  'settle',
  'enterWait',
  'leaveWait',
  'Task',
  // and of deriving and cancelling contexts, in the core
  'withTimeout',
  'withCancel',
  'withValue',
  'afterTimeout',
  'deadlineCtx',
  'deadlineChild',
  'cancelFuncOf',
  'CancelCtx',
  'ValueCtx',
  'LeashContext',
  'propagate',
  'whenOf',
  'sourceOf',
  'value',
  'get deadline',
  '_cancelSelf',
]);

for (const part of ['derive', 'tasks']) {
  const what = part === 'derive' ? 'derived contexts' : 'channel hand-offs, selects and tasks';
  test(`a full GC between bursts of ${what} deoptimizes none of their code`, () => {
    const child = spawnSync(
      process.execPath,
      ['--expose-gc', '--trace-deopt', '--import', 'tsx', fixture, part],
      { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
    );
    assert.equal(child.status, 0, child.stderr);
    const lines = child.stdout.split('\n');
    assert.equal(lines.filter((l) => l === 'BURST-END').length, 4, 'the child ran its four bursts');
    const dropped: string[] = [];
    for (const l of lines) {
      // Node 20 says "reason: weak objects", Node 24 "reason: embedded weak objects cleared".
      if (!/reason: (embedded )?weak objects/.test(l)) continue;
      const name = /<SharedFunctionInfo ([^>]*)>/.exec(l)?.[1];
      if (name !== undefined && HOT.has(name)) dropped.push(name);
    }
    assert.deepEqual(dropped, [], 'code deoptimized because a class map died at a full GC');
  });
}

test('the kept instances arm no timer: importing the layers leaves no Timeout, Immediate or deadline timer', () => {
  const code = [
    "await import('./src/context/index.ts');",
    "await import('./src/task/index.ts');",
    "await import('./src/queue/index.ts');",
    "await import('./src/pg/index.ts');",
    "const { deadlineTimerStats } = await import('./src/context/test-support/inspect.ts');",
    "const r = process.getActiveResourcesInfo().filter((x) => x === 'Timeout' || x === 'Immediate');",
    'console.log(JSON.stringify([r, deadlineTimerStats()]));',
  ].join('\n');
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(child.status, 0, child.stderr);
  const [handles, deadlines] = JSON.parse(child.stdout.trim().split('\n').pop() ?? 'null');
  assert.deepEqual(handles, []);
  // The shared deadline timer is armed by the first deadline and then left armed (unref'd), so a
  // kept deadline context that had scheduled its timer would show here as one Node timer.
  assert.deepEqual(deadlines, { deadlines: 0, nodeTimers: 0, holds: 0, refd: false });
});
