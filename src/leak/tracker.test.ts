import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { setTaskStacks, taskStacksEnabled } from '../task/index.js';
import { collectGarbage } from './collect-garbage.js';
import { withLabel } from './labels.js';
import { framesOf } from './leak.js';
import { counts, liveRecords, startTracking, stopTracking, trackingMode } from './tracker.js';
import { verifyNone } from './verify-none.js';

test('count mode counts promises and reads Node active resources, with no records', async () => {
  startTracking({ mode: 'count' });
  try {
    assert.equal(trackingMode(), 'count');
    const before = counts();
    await Promise.all([1, 2, 3].map(async (n) => n));
    const after = counts();
    assert.ok(after.promisesCreated >= before.promisesCreated + 3);
    assert.ok(after.promisesSettled >= before.promisesSettled + 3);
    const t = setInterval(() => {}, 1000);
    assert.ok((counts().resources.Timeout ?? 0) >= 1);
    clearInterval(t);
    assert.equal(
      liveRecords().filter((r) => r.kind === 'resource' && r.type === 'Interval').length,
      0,
      'no per-object state in count mode',
    );
  } finally {
    stopTracking();
  }
  assert.equal(trackingMode(), undefined);
});

test('timers end when fired or cleared; intervals and file handles when closed', async () => {
  startTracking({ mode: 'full' });
  const mine = () =>
    liveRecords().filter(
      (r) => r.kind === 'resource' && framesOf(r).some((f) => f.file.endsWith('tracker.test.ts')),
    );
  const once = setTimeout(() => {}, 1);
  const interval = setInterval(() => {}, 1000);
  const immediate = setImmediate(() => {});
  const types = mine().map((r) => r.type);
  for (const t of ['Timeout', 'Interval', 'Immediate']) assert.ok(types.includes(t), `${t} in ${types}`);
  const file = await fs.open(fileURLToPath(import.meta.url)).catch((e: unknown) => {
    clearInterval(interval);
    throw e;
  });
  // Node creates a FileHandle with no async context (trigger 0), so it has no caller line: it is
  // tracked (and reported) by type and state only.
  const fileRecord = liveRecords().find(
    (r) => r.type === 'FILEHANDLE' && (r.target as { fd?: number }).fd === file.fd,
  );
  if (fileRecord === undefined) clearInterval(interval);
  assert.ok(fileRecord, 'an open file handle is tracked');
  await new Promise((r) => setTimeout(r, 5));
  assert.ok(!mine().some((r) => r.type === 'Timeout' && r.target === once), 'a fired timeout is done');
  assert.ok(!mine().some((r) => r.target === immediate));
  clearInterval(interval);
  await file.close();
  assert.deepEqual(
    mine().filter((r) => r.type === 'Interval'),
    [],
  );
  liveRecords();
  assert.equal(fileRecord.state, 'closed');
});

test('labels keep concurrent units apart', async () => {
  startTracking({ mode: 'full' });
  const timers: NodeJS.Timeout[] = [];
  await Promise.all([
    withLabel('clean', async () => {
      await new Promise((r) => setTimeout(r, 20));
    }),
    withLabel('leaky', async () => {
      await new Promise((r) => setTimeout(r, 1));
      timers.push(setInterval(() => {}, 1000)); // created in a later callback: still labelled
    }),
  ]);
  try {
    await verifyNone({ label: 'clean' });
    const err = await verifyNone({ label: 'leaky', timeoutMs: 20 }).catch((e: unknown) => e);
    assert.ok(err instanceof Error && (err as { code?: string }).code === 'LEASH_ERR_LEAK');
  } finally {
    for (const t of timers) clearInterval(t);
  }
  assert.throws(() => withLabel('', () => 1), { code: 'LEASH_ERR_INVALID_ARG' });
});

test('listeners: once() and removeListener end the record; removeAllListeners too', () => {
  startTracking({ mode: 'full' });
  const e = new EventEmitter();
  const mine = () => liveRecords().filter((r) => r.kind === 'listener' && r.emitter?.deref() === e);
  const fn = () => {};
  e.on('a', fn);
  e.once('b', () => {});
  e.on('c', () => {});
  e.on('c', () => {});
  assert.equal(mine().length, 4);
  e.off('a', fn);
  e.emit('b');
  assert.deepEqual(
    mine().map((r) => r.event),
    ['c', 'c'],
  );
  e.removeAllListeners('c');
  assert.equal(mine().length, 0);
  const ac = new AbortController();
  ac.signal.addEventListener('abort', () => {});
  assert.equal(liveRecords().filter((r) => r.emitter?.deref() === ac.signal).length, 1);
  ac.abort();
  assert.equal(liveRecords().filter((r) => r.emitter?.deref() === ac.signal).length, 0);
});

test('tracking does not keep collected objects alive (listener closures over their emitter)', async () => {
  startTracking({ mode: 'full' });
  let ref: WeakRef<EventEmitter> | undefined;
  (() => {
    const e = new EventEmitter();
    e.on('x', () => e.emit('y'));
    ref = new WeakRef(e);
  })();
  await collectGarbage();
  await collectGarbage();
  assert.equal(ref!.deref(), undefined);
});

test('bad options throw LEASH_ERR_INVALID_ARG', () => {
  assert.throws(() => startTracking({ mode: 'fast' as 'full' }), { code: 'LEASH_ERR_INVALID_ARG' });
  assert.throws(() => startTracking({ mode: 'debug', sampleEvery: 0 }), {
    code: 'LEASH_ERR_INVALID_ARG',
  });
});

test('EventTarget listeners follow the DOM: type + callback + capture is one listener', () => {
  startTracking({ mode: 'full' });
  const target = new EventTarget();
  const mine = () => liveRecords().filter((r) => r.kind === 'listener' && r.emitter?.deref() === target);
  const fn = () => {};
  let calls = 0;
  const counter = () => calls++;
  // A duplicate add is ignored by EventTarget: one listener, one record.
  target.addEventListener('x', counter);
  target.addEventListener('x', counter);
  target.dispatchEvent(new Event('x'));
  assert.equal(calls, 1, 'EventTarget itself keeps one listener');
  assert.equal(mine().length, 1);
  target.removeEventListener('x', counter);
  assert.equal(mine().length, 0, 'no phantom after removeEventListener');
  // capture is part of the identity, given as a boolean or in options.
  target.addEventListener('y', fn, true);
  target.addEventListener('y', fn, { capture: true });
  target.addEventListener('y', fn);
  target.addEventListener('y', fn, { capture: false });
  assert.equal(mine().length, 2);
  target.removeEventListener('y', fn); // the non-capture one
  assert.deepEqual(
    mine().map((r) => r.event),
    ['y'],
  );
  target.removeEventListener('y', fn, { capture: false }); // already gone: nothing changes
  assert.equal(mine().length, 1);
  target.removeEventListener('y', fn, true);
  assert.equal(mine().length, 0);
  // Re-adding after removal is a new listener.
  target.addEventListener('y', fn, true);
  assert.equal(mine().length, 1);
  target.removeEventListener('y', fn, { capture: true });
  assert.equal(mine().length, 0);
  // A listener added with a signal leaves when the signal aborts; with an aborted one it never joins.
  const ac = new AbortController();
  target.addEventListener('z', fn, { signal: ac.signal });
  assert.equal(mine().length, 1);
  ac.abort();
  assert.equal(mine().length, 0);
  target.addEventListener('z', fn, { signal: ac.signal });
  assert.equal(mine().length, 0);
  target.addEventListener('z', fn);
  assert.equal(mine().length, 1, 'the aborted one does not count as a duplicate');
  target.removeEventListener('z', fn);
  assert.equal(mine().length, 0);
});

test('stopTracking leaves task stacks as they were (LEASH_TASK_STACKS=1 stays on)', () => {
  stopTracking();
  const before = taskStacksEnabled();
  try {
    setTaskStacks(true); // what LEASH_TASK_STACKS=1 does at startup
    startTracking({ mode: 'full' });
    stopTracking();
    assert.equal(taskStacksEnabled(), true);
    setTaskStacks(false);
    startTracking({ mode: 'full' });
    assert.equal(taskStacksEnabled(), true, 'tracking turns them on');
    stopTracking();
    assert.equal(taskStacksEnabled(), false, 'and off again when it turned them on');
  } finally {
    setTaskStacks(before);
  }
});

test('counts stay consistent when promises from before tracking settle (settled <= created)', async () => {
  for (const mode of ['count', 'debug', 'full'] as const) {
    stopTracking();
    const resolvers: Array<() => void> = [];
    const early = Array.from({ length: 5 }, () => new Promise<void>((r) => resolvers.push(r)));
    startTracking({ mode });
    const before = counts();
    for (const resolve of resolvers) resolve();
    await Promise.all(early);
    const after = counts();
    assert.ok(after.promisesSettled <= after.promisesCreated, `${mode}: ${JSON.stringify(after)}`);
    assert.equal(after.promisesPending, after.promisesCreated - after.promisesSettled);
    if (mode === 'full') {
      // The five early promises are not counted: no more settled than created since `before`.
      assert.ok(
        after.promisesSettled - before.promisesSettled <= after.promisesCreated - before.promisesCreated,
        JSON.stringify({ before, after }),
      );
    }
  }
  stopTracking();
});
