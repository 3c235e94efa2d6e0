// Ports of Go's TestValues, TestWithValueChecksKey and TestWithoutCancel.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  background,
  type Context,
  createKey,
  isCanceled,
  withCancel,
  withoutCancel,
  withTimeout,
  withValue,
} from './index.js';

test('TestValues: values shadow along the chain and keys compare by identity', () => {
  const k1 = createKey<string>('k1');
  const k2 = createKey<string>('k2');
  const k3 = createKey<string>('k3');
  const sameName = createKey<string>('k1');
  const c0 = background();
  const c1 = withValue(c0, k1, 'c1k1');
  const c2 = withValue(c1, k2, 'c2k2');
  const c3 = withValue(c2, k3, 'c3k3');
  const c4 = withValue(c3, k1, 'c4k1');
  const [c5] = withCancel(c4);
  assert.equal(c1.value(k1), 'c1k1');
  assert.equal(c1.value(k2), undefined);
  assert.equal(c3.value(k1), 'c1k1');
  assert.equal(c3.value(k3), 'c3k3');
  assert.equal(c4.value(k1), 'c4k1', 'the nearest value wins');
  assert.equal(c5.value(k1), 'c4k1', 'values pass through cancel contexts');
  assert.equal(c4.value(sameName), undefined, 'a key with the same name is a different key');
  assert.equal(String(c4), 'context.Background.WithValue(k1).WithValue(k2).WithValue(k3).WithValue(k1)');
});

test('undefined and falsy values are stored, and undefined shadows', () => {
  const k = createKey<number | undefined>('k');
  const c1 = withValue(background(), k, 0);
  const c2 = withValue(c1, k, undefined);
  assert.equal(c1.value(k), 0);
  assert.equal(c2.value(k), undefined);
});

test('TestWithValueChecksKey: keys not made by createKey are rejected with a clear error', () => {
  const bad = [undefined, null, 'user', Symbol('k'), { name: 'k' }];
  for (const key of bad) {
    assert.throws(
      () => withValue(background(), key as never, 1),
      (e: unknown) =>
        e instanceof TypeError &&
        (e as { code?: string }).code === 'LEASH_ERR_INVALID_ARG' &&
        /createKey/.test(e.message),
    );
    assert.throws(() => background().value(key as never), { code: 'LEASH_ERR_INVALID_ARG' });
  }
  assert.throws(() => createKey(42 as never), { code: 'LEASH_ERR_INVALID_ARG' });
});

test('a value child is done with its parent and has its deadline', () => {
  const [p, cancel] = withTimeout(background(), 60_000);
  const v = withValue(p, createKey('k'), 1);
  assert.equal(v.deadline, p.deadline);
  assert.equal(v.signal, p.signal, 'shares the nearest cancel context signal');
  cancel();
  assert.ok(isCanceled(v.err));
});

test('TestWithoutCancel: keeps values, is never done, has no deadline', async () => {
  const k = createKey<string>('k');
  const [p, cancel] = withTimeout(withValue(background(), k, 'v'), 10);
  const wc = withoutCancel(p);
  const [child, cancelChild] = withCancel(wc);
  cancel();
  assert.ok(isCanceled(p.err));
  assert.equal(wc.err, undefined);
  assert.equal(wc.deadline, undefined);
  assert.equal(wc.signal.aborted, false);
  assert.equal(wc.value(k), 'v');
  assert.equal(child.err, undefined, 'a child of withoutCancel is not cancelled by the original parent');
  assert.match(String(wc), /^context\.Background\.WithValue\(k\)\.WithDeadline\(.*\)\.WithoutCancel$/);
  cancelChild();
});

test('property: value() returns the innermost binding for each key (fast-check)', () => {
  const keys = Array.from({ length: 4 }, (_, i) => createKey<number>(`k${i}`));
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(3), fc.integer(), fc.boolean()), { maxLength: 30 }), (ops) => {
      let ctx: Context = background();
      const model = new Map<number, number>();
      const cancels: (() => void)[] = [];
      for (const [ki, value, cancelLayer] of ops) {
        if (cancelLayer) {
          const [c, cancel] = withCancel(ctx);
          ctx = c;
          cancels.push(cancel);
        } else {
          ctx = withValue(ctx, keys[ki] as (typeof keys)[number], value);
          model.set(ki, value);
        }
      }
      for (const [i, k] of keys.entries()) assert.equal(ctx.value(k), model.get(i));
      for (const c of cancels) c();
    }),
  );
});
