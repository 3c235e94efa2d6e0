// Leak tests: run with --expose-gc (npm test does). Each measures the heap after a full GC
// before and after a million operations on one long-lived context.
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { test } from 'node:test';
import { abortable, background, withCancel, withTimeout } from './index.js';
import { childCount, deadlineTimerStats } from './test-support/inspect.js';

const gc = (globalThis as { gc?: () => void }).gc;
const MB = 1024 * 1024;

// Under async_hooks (node:test runs each test in an async resource) a collected promise leaves an
// id in Node's destroy queue until the next turn of the event loop: let it drain before measuring.
async function heapAfterGc(): Promise<number> {
  (gc as () => void)();
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  (gc as () => void)();
  return process.memoryUsage().heapUsed;
}

test('the leak tests need --expose-gc', () => {
  assert.equal(typeof gc, 'function', 'run with node --expose-gc (npm test does)');
});

test('a million children derived from one long-lived parent and cancelled grow the heap < 1 MB', async () => {
  const [parent, cancelParent] = withCancel(background());
  for (let i = 0; i < 10_000; i++) withCancel(parent)[1](); // warm up
  const before = await heapAfterGc();
  for (let i = 0; i < 1_000_000; i++) {
    const [child, cancel] = withCancel(parent);
    if (i % 3 === 0) void child.signal; // materialised signals are released too
    if (i % 5 === 0) void child.done;
    cancel();
  }
  const growth = (await heapAfterGc()) - before;
  assert.ok(growth < MB, `heap grew by ${(growth / 1024).toFixed(0)} KiB`);
  assert.equal(childCount(parent), 0);
  cancelParent();
});

test('a million live withTimeout contexts cost one Node timer; cancelled, they are gone', async () => {
  const [parent, cancelParent] = withCancel(background());
  let timeouts = 0;
  const hook = createHook({
    init(_id, type) {
      if (type === 'Timeout') timeouts++;
    },
  }).enable();
  const before = await heapAfterGc();
  const cancels: (() => void)[] = [];
  for (let i = 0; i < 1_000_000; i++) cancels.push(withTimeout(parent, 60_000 + (i % 1000))[1]);
  hook.disable();
  assert.ok(timeouts <= 1, `${timeouts} Node timers for a million deadlines`);
  assert.equal(deadlineTimerStats().deadlines, 1_000_000);
  for (const c of cancels) c();
  cancels.length = 0;
  assert.equal(deadlineTimerStats().deadlines, 0);
  const growth = (await heapAfterGc()) - before;
  assert.ok(growth < MB, `heap grew by ${(growth / 1024).toFixed(0)} KiB after cancelling them`);
  cancelParent();
});

test('reading signal and done of a long-lived parent from many children leaves nothing behind', async () => {
  const [parent, cancelParent] = withCancel(background());
  void parent.signal;
  void parent.done;
  const derive = (n: number) => {
    for (let i = 0; i < n; i++) {
      const [child, cancel] = withTimeout(parent, 60_000);
      void child.signal;
      void child.done;
      cancel();
    }
  };
  // Warm up with a full round: the first round after a large burst (the previous test) settles
  // one-off V8 structures (about 2 MB on Node 24) that do not grow with the number of children.
  derive(200_000);
  const before = await heapAfterGc();
  derive(200_000);
  const growth = (await heapAfterGc()) - before;
  assert.ok(growth < MB, `heap grew by ${(growth / 1024).toFixed(0)} KiB`);
  cancelParent();
});

test('a million abortable(ctx, p) calls on one long-lived context retain nothing once each p settles', async () => {
  const [ctx, cancel] = withCancel(background());
  const batch = async (n: number) => {
    for (let i = 0; i < n; i += 1000) {
      const ps: Promise<number>[] = [];
      for (let j = 0; j < 1000; j++) ps.push(abortable(ctx, Promise.resolve(j)));
      await Promise.all(ps);
    }
  };
  await batch(10_000);
  const before = await heapAfterGc();
  await batch(1_000_000);
  const growth = (await heapAfterGc()) - before;
  assert.ok(growth < MB, `heap grew by ${(growth / 1024).toFixed(0)} KiB`);
  assert.equal(childCount(ctx), 0);
  cancel();
});

test('control: Promise.race against ctx.done does leak, which is why abortable exists', async () => {
  const [ctx, cancel] = withCancel(background());
  const done = ctx.done;
  const before = await heapAfterGc();
  for (let i = 0; i < 100; i++) {
    const ps: Promise<unknown>[] = [];
    for (let j = 0; j < 1000; j++) ps.push(Promise.race([Promise.resolve(j), done]));
    await Promise.all(ps);
  }
  const growth = (await heapAfterGc()) - before;
  assert.ok(
    growth > 2 * MB,
    `expected the race pattern to retain its reactions, grew ${(growth / 1024).toFixed(0)} KiB`,
  );
  cancel();
});
