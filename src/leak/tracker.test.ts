import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
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
