import assert from 'node:assert/strict';
import { test } from 'node:test';
import { background, isDeadlineExceeded, sleep, withCancel, withTimeout } from '../context/index.js';
import { childCount } from '../context/test-support/inspect.js';
import { BulkheadRejectedError, bulkhead, timeout, wrap } from './index.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

test('bulkhead runs at most limit calls and queues up to queue more, first in first out', async () => {
  const b = bulkhead({ limit: 2, queue: 2 });
  const g = gate();
  const started: number[] = [];
  const calls = [0, 1, 2, 3].map((i) =>
    b.execute(background(), async () => {
      started.push(i);
      await g.promise;
      return i;
    }),
  );
  await tick();
  assert.deepEqual(started, [0, 1]);
  assert.equal(b.active, 2);
  assert.equal(b.queued, 2);
  await assert.rejects(
    b.execute(background(), async () => 9),
    (e) => e instanceof BulkheadRejectedError && e.code === 'LEASH_ERR_BULKHEAD_FULL',
  );
  g.open();
  assert.deepEqual(await Promise.all(calls), [0, 1, 2, 3]);
  assert.deepEqual(started, [0, 1, 2, 3]);
  assert.equal(b.active, 0);
});

test("order 'lifo' gives a freed permit to the newest waiter", async () => {
  const b = bulkhead({ limit: 1, queue: 3, order: 'lifo' });
  const g = gate();
  const started: number[] = [];
  const calls = [0, 1, 2, 3].map((i) =>
    b.execute(background(), async () => {
      started.push(i);
      await g.promise;
    }),
  );
  await tick();
  g.open();
  await Promise.all(calls);
  assert.deepEqual(started, [0, 3, 2, 1]);
});

test('a waiter whose context ends leaves the queue at once and never runs', async () => {
  const b = bulkhead({ limit: 1, queue: 5 });
  const g = gate();
  const first = b.execute(background(), () => g.promise);
  const [ctx, cancel] = withCancel(background());
  let ran = false;
  const waiter = b.execute(ctx, async () => {
    ran = true;
  });
  await tick();
  assert.equal(b.queued, 1);
  cancel();
  await assert.rejects(waiter, (e) => e === ctx.err);
  await tick();
  assert.equal(b.queued, 0, 'left the queue');
  assert.equal(childCount(ctx), 0);
  g.open();
  await first;
  await tick();
  assert.equal(ran, false);
});

test('callers that time out while their work continues never let the limit be exceeded', async () => {
  const limit = 3;
  const b = bulkhead({ limit, queue: 100 });
  const policy = wrap(timeout(10), b);
  let running = 0;
  let peak = 0;
  let finished = 0;
  const work = async (): Promise<void> => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 25)); // ignores its context
    running--;
    finished++;
  };
  const t0 = performance.now();
  const results = await Promise.allSettled(
    Array.from({ length: 12 }, () => policy.execute(background(), work)),
  );
  const released = performance.now() - t0;
  assert.ok(results.every((r) => r.status === 'rejected' && isDeadlineExceeded(r.reason)));
  assert.ok(released < 60, `every caller released at its deadline (${released} ms)`);
  assert.equal(b.active, limit, 'permits are still held by abandoned work');
  // Abandoned work holds its permit; waiters whose caller left never start.
  await sleep(background(), 60);
  assert.equal(peak, limit);
  assert.equal(finished, limit);
  assert.equal(b.active, 0);
  assert.equal(b.queued, 0);
});

test('a waiter whose remaining budget is shorter than the expected wait is rejected at once', async () => {
  const b = bulkhead({ limit: 1, queue: 10 });
  await b.execute(background(), () => sleep(background(), 40)); // learns the hold time
  const g = gate();
  const running = b.execute(background(), () => g.promise);
  const [ctx, cancel] = withTimeout(background(), 5);
  const t0 = performance.now();
  await assert.rejects(
    b.execute(ctx, async () => 1),
    (e) => e instanceof BulkheadRejectedError && /budget/.test(e.message),
  );
  assert.ok(performance.now() - t0 < 5);
  // A caller with room to wait is queued.
  const [long, cancelLong] = withTimeout(background(), 5_000);
  const queued = b.execute(long, async () => 2);
  await tick();
  assert.equal(b.queued, 1);
  g.open();
  await running;
  assert.equal(await queued, 2);
  cancel();
  cancelLong();
});

test('the work gets the caller context; a synchronous throw releases the permit', async () => {
  const b = bulkhead({ limit: 1 });
  await assert.rejects(
    b.execute(background(), () => {
      throw new Error('sync');
    }),
    /sync/,
  );
  await tick();
  assert.equal(b.active, 0);
  const [ctx, cancel] = withCancel(background());
  await b.execute(ctx, async (c) => assert.equal(c, ctx));
  cancel();
});

test('bulkhead options are validated when it is made', () => {
  const bad = [
    undefined,
    {},
    { limit: 0 },
    { limit: 1.5 },
    { limit: 1, queue: -1 },
    { limit: 1, order: 'random' },
  ];
  for (const o of bad) {
    assert.throws(() => bulkhead(o as never), { name: 'TypeError', code: 'LEASH_ERR_INVALID_ARG' });
  }
  assert.throws(() => bulkhead({ limit: 1, qeue: 1 } as never), /did you mean "queue"/);
  assert.throws(() => bulkhead({ limit: 1, order: 'fifa' as never }), /did you mean "fifo"/);
});
