import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { test } from 'node:test';
import { background, cause, fromSignal, isCanceled, isDeadlineExceeded, withCancel } from './index.js';

test('fromSignal: cancelled when the foreign signal aborts, with its reason as cause', () => {
  const ac = new AbortController();
  const [ctx] = fromSignal(background(), ac.signal);
  const reason = new Error('request aborted');
  ac.abort(reason);
  assert.ok(isCanceled(ctx.err));
  assert.equal(cause(ctx), reason);
});

test('fromSignal: a TimeoutError reason means DeadlineExceeded', async () => {
  const [ctx] = fromSignal(background(), AbortSignal.timeout(10));
  // AbortSignal.timeout does not keep the process alive, and a foreign signal gives leash no
  // deadline to hold: keep the test process alive ourselves.
  const keepAlive = setTimeout(() => {}, 5_000);
  await ctx.done;
  clearTimeout(keepAlive);
  assert.ok(isDeadlineExceeded(ctx.err));
});

test('fromSignal: also cancelled by its parent; one listener per signal, removed when all are done', () => {
  const ac = new AbortController();
  const [parent, cancelParent] = withCancel(background());
  const a = fromSignal(parent, ac.signal);
  const b = fromSignal(parent, ac.signal);
  assert.equal(getEventListeners(ac.signal, 'abort').length, 1);
  a[1]();
  assert.equal(getEventListeners(ac.signal, 'abort').length, 1);
  cancelParent();
  assert.ok(isCanceled(b[0].err));
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
});

test('fromSignal: an already aborted signal gives a done context; bad signals are rejected', () => {
  const [ctx] = fromSignal(background(), AbortSignal.abort('gone'));
  assert.ok(isCanceled(ctx.err));
  assert.equal(cause(ctx), 'gone');
  assert.throws(() => fromSignal(background(), {} as AbortSignal), { code: 'LEASH_ERR_INVALID_ARG' });
});
