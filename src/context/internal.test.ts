import assert from 'node:assert/strict';
import { test } from 'node:test';
import { background } from './background.js';
import { assertContext, assertNumber, assertOneOf, assertOptions, closest, describe } from './internal.js';

test('describe names the type of the value, never throws', () => {
  assert.equal(describe('4'), 'the string "4"');
  assert.equal(describe(4), 'the number 4');
  assert.equal(describe(undefined), 'undefined');
  assert.equal(describe(Object.create(null)), 'an object with a null prototype');
  assert.equal(describe(new Map()), 'an object (Map)');
  const hostile = new Proxy(
    {},
    {
      getPrototypeOf: () => {
        throw new Error('no');
      },
    },
  );
  assert.equal(describe(hostile), 'an object that cannot be inspected');
});

test('assertContext points an AbortSignal at fromSignal', () => {
  assert.doesNotThrow(() => assertContext(background(), 'f(ctx)'));
  assert.throws(() => assertContext(new AbortController().signal, 'f(ctx)'), /fromSignal/);
  assert.throws(() => assertContext(undefined, 'f(ctx)'), {
    code: 'LEASH_ERR_INVALID_ARG',
    message: /^f\(ctx\): .*got undefined$/,
  });
});

test('assertNumber rejects strings, objects and out-of-range values with a code', () => {
  for (const bad of [
    '4',
    Object.create(null),
    { valueOf: () => 4 },
    Number.NaN,
    -1,
    1.5,
    Number.POSITIVE_INFINITY,
  ]) {
    assert.throws(() => assertNumber(bad, 'f(n)', 'n', { min: 0, integer: true }), {
      code: 'LEASH_ERR_INVALID_ARG',
    });
  }
  assert.doesNotThrow(() => assertNumber(Number.POSITIVE_INFINITY, 'f(n)', 'n', { min: 0, infinite: true }));
  assert.throws(() => assertNumber('4', 'f(n)', 'n'), /got the string "4"/);
});

test('assertOptions rejects unknown keys with a suggestion and non-objects', () => {
  assert.deepEqual(assertOptions(undefined, 'f(opts)', ['timeoutMs']), {});
  assert.throws(
    () => assertOptions({ timeout: 100 }, 'f(opts)', ['timeoutMs', 'maxTimeoutMs']),
    /did you mean "timeoutMs"/,
  );
  assert.throws(() => assertOptions(4 as never, 'f(opts)', ['limit']), {
    code: 'LEASH_ERR_INVALID_ARG',
    message: /got the number 4/,
  });
  assert.throws(() => assertOptions(null as never, 'f(opts)', ['limit']), /got null/);
});

test('assertOneOf and closest suggest the near miss', () => {
  assert.throws(() => assertOneOf('fifo ', 'f', 'order', ['fifo', 'lifo']), /did you mean "fifo"/);
  assert.equal(closest('tiemoutMs', ['timeoutMs', 'limit']), 'timeoutMs');
  assert.equal(closest('zzz', ['timeoutMs', 'limit']), '');
  // Two neighbouring letters swapped count as one edit, so a short name still finds its match
  // (as two substitutions, rtae was two edits from rate, over the limit of one for four letters).
  assert.equal(closest('rtae', ['rate', 'body', 'duration']), 'rate');
  assert.equal(closest('sede', ['seed', 'faults']), 'seed');
  assert.equal(closest('lmiit', ['limit', 'name']), 'limit');
  assert.equal(closest('ab', ['ba', 'zz']), 'ba');
  // Two swaps are two edits: still too far for a four-letter name.
  assert.equal(closest('erta', ['rate']), '');
});

test('every core function that takes a ctx points an AbortSignal at fromSignal, naming itself', async () => {
  const core = await import('./index.js');
  const signal = new AbortController().signal as never;
  const calls: [string, () => unknown][] = [
    ['withCancel(parent)', () => core.withCancel(signal)],
    ['withCancelCause(parent)', () => core.withCancelCause(signal)],
    ['withTimeout(parent, ms)', () => core.withTimeout(signal, 1)],
    ['withDeadline(parent, at)', () => core.withDeadline(signal, Date.now())],
    ['withValue(parent, key, value)', () => core.withValue(signal, core.createKey('k'), 1)],
    ['withoutCancel(parent)', () => core.withoutCancel(signal)],
    ['afterFunc(ctx, fn)', () => core.afterFunc(signal, () => {})],
    ['cause(ctx)', () => core.cause(signal)],
    ['remaining(ctx)', () => core.remaining(signal)],
    ['sleep(ctx, ms)', () => core.sleep(signal, 1)],
    ['abortable(ctx, work)', () => core.abortable(signal, Promise.resolve())],
    ['fromSignal(parent, signal)', () => core.fromSignal(signal, signal)],
  ];
  for (const [where, call] of calls) {
    assert.throws(call, (e: Error & { code?: string }) => {
      assert.equal(e.code, 'LEASH_ERR_INVALID_ARG');
      assert.ok(e.message.startsWith(`${where}: `), e.message);
      assert.match(e.message, /fromSignal/);
      return true;
    });
  }
});
