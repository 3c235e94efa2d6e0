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

// The functions on the hot paths the fixture drives (the child imports the sources, so V8 sees
// these names). Only names no loader or Node internal is likely to share: V8 prints a bare name,
// not its file, and a tsx or Node function called `go` or `push` deoptimized at a GC must not
// fail this test.
const HOT = new Set([
  // leashjs/task: channels, select, range, tasks
  '#recv',
  '#take',
  '#offer',
  '#block',
  '_poll',
  '_tryNext',
  'takeLive',
  'wakeSender',
  'wakeReceiver',
  'Waiter',
  'Blocker',
  'SelectOp',
  'RangeIterator',
  'CtxWatch',
  'enterWait',
  'leaveWait',
  'Task',
  'spawn',
  // the core's derive and cancel
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
  '_cancelSelf',
  // the memory queue
  '#enqueue',
  'tryEnqueue',
  'tryFetch',
  '#start',
  '#settle',
  '#refill',
  'newId',
  '#pushSlot',
  '#shiftSlot',
  '#seqOf',
  'MemJob',
]);

// What --trace-deopt prints for code thrown away because an object it embeds died: Node 20 says
// "reason: weak objects", Node 24 "reason: embedded weak objects cleared".
const WEAK = /reason: (embedded )?weak objects/;

const parts = {
  derive: 'derived contexts',
  tasks: 'channel hand-offs, selects, ranges and tasks',
  queue: 'a memory queue filled and drained by one long-lived worker',
} as const;

for (const [part, what] of Object.entries(parts)) {
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
    let controlDropped = 0;
    for (const l of lines) {
      if (!WEAK.test(l)) continue;
      const name = /<SharedFunctionInfo ([^>]*)>/.exec(l)?.[1];
      if (name === 'Unkept' || name === 'control') controlDropped++;
      if (name !== undefined && HOT.has(name)) dropped.push(name);
    }
    // The control class is kept by nothing: seeing its code dropped shows that this run compiled
    // with the optimizing compiler and that the reason is still printed as the regex expects.
    assert.ok(controlDropped > 0, 'the control class was not seen deoptimized: this run checks nothing');
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

// What --trace-deopt prints for code thrown away because a field it took for a constant changed:
// Node 20 says "reason: code dependencies", Node 24 "reason: dependent field type constness changed".
const DEPENDENCY = /reason: (code dependencies|dependent field type constness changed)/;

test('the first task to end deoptimizes none of the channel hand-off', () => {
  const child = spawnSync(
    process.execPath,
    [
      '--trace-deopt',
      '--import',
      'tsx',
      fileURLToPath(new URL('./fixtures/first-task-end.ts', import.meta.url)),
    ],
    { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
  );
  assert.equal(child.status, 0, child.stderr);
  const lines = child.stdout.split('\n');
  const from = lines.indexOf('FIRST-END');
  const to = lines.indexOf('AFTER');
  assert.ok(from >= 0 && to > from, 'the child reached the first task end');
  const dropped: string[] = [];
  let controlDropped = 0;
  for (const l of lines.slice(from, to)) {
    if (!DEPENDENCY.test(l)) continue;
    const name = /<SharedFunctionInfo ([^>]*)>/.exec(l)?.[1];
    if (name === 'control' || name === 'Probe') controlDropped++;
    // `send` and `recv` by name too: the fixture's only functions of those names are the channel's.
    if (
      name !== undefined &&
      (HOT.has(name) || name === 'send' || name === 'recv' || name === 'block' || name === 'unblock')
    )
      dropped.push(name);
  }
  // The control's field changes in the same window: seeing its code dropped shows that this run
  // optimized and that the reason is printed as the regex expects.
  assert.ok(controlDropped > 0, 'the control was not seen deoptimized: this run checks nothing');
  assert.deepEqual(dropped, [], 'code deoptimized when the first task ended');
});
