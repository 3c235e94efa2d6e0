import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { test } from 'node:test';
import {
  abortable,
  background,
  cause,
  isCanceled,
  withCancel,
  withCancelCause,
  withTimeout,
} from './index.js';
import { childCount } from './test-support/inspect.js';

test('abortable settles as the work does and unregisters', async () => {
  const [ctx, cancel] = withCancel(background());
  assert.equal(await abortable(ctx, Promise.resolve(42)), 42);
  await assert.rejects(abortable(ctx, Promise.reject(new Error('work failed'))), /work failed/);
  assert.equal(childCount(ctx), 0);
  cancel();
});

test('abortable rejects with ctx.err when the context ends first; the cause stays readable', async () => {
  const [ctx, cancel] = withCancelCause(background());
  const p = abortable(ctx, new Promise(() => {}));
  assert.equal(childCount(ctx), 1);
  const why = new Error('client went away');
  cancel(why);
  await assert.rejects(p, (e) => isCanceled(e));
  assert.equal(cause(ctx), why);
});

test('a late rejection of abandoned work is published, not unhandled', async () => {
  const [ctx, cancel] = withCancel(background());
  let rejectWork!: (e: Error) => void;
  const work = new Promise<never>((_, reject) => (rejectWork = reject));
  const seen: unknown[] = [];
  const onMessage = (m: unknown) => seen.push((m as { error: unknown }).error);
  diagnostics_channel.subscribe('leash:context:abandoned-rejection', onMessage);
  let unhandled = 0;
  const onUnhandled = () => unhandled++;
  process.on('unhandledRejection', onUnhandled);
  try {
    const p = abortable(ctx, work);
    cancel();
    await assert.rejects(p, (e) => isCanceled(e));
    const late = new Error('late');
    rejectWork(late);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, [late]);
    assert.equal(unhandled, 0);
  } finally {
    diagnostics_channel.unsubscribe('leash:context:abandoned-rejection', onMessage);
    process.off('unhandledRejection', onUnhandled);
  }
});

test('abortable on a done context rejects at once; on a deadline it rejects with DeadlineExceeded', async () => {
  const [done, cancel] = withCancel(background());
  cancel();
  await assert.rejects(abortable(done, Promise.resolve(1)), (e) => isCanceled(e));
  const [ctx] = withTimeout(background(), 20);
  await assert.rejects(abortable(ctx, new Promise(() => {})), { name: 'TimeoutError' });
});

test('abortable rejects a non-promise with a clear error', () => {
  assert.throws(() => abortable(background(), (() => Promise.resolve()) as never), {
    code: 'LEASH_ERR_INVALID_ARG',
    message: /call the function first/,
  });
});
