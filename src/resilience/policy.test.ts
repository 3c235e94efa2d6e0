// The one race per call and its observers (src/resilience/policy.ts): a breaker or a bulkhead that
// waits on the same promise as the caller's race is told by the race's own reaction, so these tests
// check that every composition still sees each work settle, whoever answered the caller.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { background, CanceledError, type Context, sleep, withCancel, withTimeout } from '../context/index.js';
import { heldCount } from '../context/internal.js';
import { bulkhead, circuitBreaker, type Policy, retry, timeout, wrap } from './index.js';

const boom = new Error('boom');
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
}

test('wrap(breaker, bulkhead): after the caller left, the permit is held and the outcome recorded when the work settles', async () => {
  const breaker = circuitBreaker({ window: { calls: 2 }, minimumCalls: 2 });
  const bh = bulkhead({ limit: 1 });
  const [ctx, cancel] = withCancel(background());
  const work = deferred<number>();
  const call = wrap(breaker, bh)
    .execute(ctx, () => work.promise)
    .catch((e) => e);
  cancel();
  assert.ok((await call) instanceof CanceledError, 'the caller is answered at once');
  assert.equal(bh.active, 1, 'the permit is held while the abandoned work runs');
  assert.equal(breaker.metrics.calls, 0);
  work.reject(boom);
  await tick();
  assert.equal(bh.active, 0, 'given back when the work settles');
  assert.equal(breaker.metrics.failedCalls, 1, 'a failure of its own after the caller left still counts');
});

test('a caller whose context ends while the work succeeds later: the success is recorded, never a failure', async () => {
  const breaker = circuitBreaker({ window: { calls: 2 }, minimumCalls: 1 });
  const bh = bulkhead({ limit: 1 });
  const [ctx, cancel] = withTimeout(background(), 5);
  const work = deferred<number>();
  const call = wrap(breaker, bh)
    .execute(ctx, () => work.promise)
    .catch((e) => e);
  await sleep(background(), 10);
  await call;
  assert.equal(heldCount(), 0, 'the race gave its hold back when the deadline answered the caller');
  work.resolve(1);
  await tick();
  assert.equal(bh.active, 0);
  assert.equal(breaker.metrics.calls, 1);
  assert.equal(breaker.metrics.failedCalls, 0);
  assert.equal(breaker.state, 'closed');
  cancel();
});

test('a user policy that transforms the result between them: each policy still sees its own work settle', async () => {
  const breaker = circuitBreaker({ window: { calls: 10 }, minimumCalls: 1, failureRate: 1 });
  const bh = bulkhead({ limit: 1 });
  const doubling: Policy = {
    execute: <T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T> =>
      fn(ctx).then((v) => ((v as number) * 2) as T),
  };
  const p = wrap(breaker, doubling, bh);
  assert.equal(await p.execute(background(), async () => 21), 42);
  assert.equal(bh.active, 0);
  assert.equal(breaker.metrics.calls, 1);
  const failing: Policy = {
    execute: <T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T> =>
      fn(ctx).then(() => {
        throw boom;
      }),
  };
  await assert.rejects(
    wrap(breaker, failing, bh).execute(background(), async () => 1),
    boom,
  );
  assert.equal(bh.active, 0, 'the inner work succeeded: the permit is back');
  assert.equal(breaker.metrics.failedCalls, 1, 'the breaker judged what it was handed: a failure');
});

test('wraps inside wraps behave as one chain: released at the timeout, the permit inside it held until the work settles', async () => {
  const breaker = circuitBreaker({ window: { calls: 5 }, minimumCalls: 1, failureRate: 1 });
  const bh = bulkhead({ limit: 1 });
  const work = deferred<void>();
  const p = wrap(wrap(retry({ maxAttempts: 1 }), breaker), wrap(timeout(10), bh));
  const started = performance.now();
  const e = await p.execute(background(), () => work.promise).catch((x) => x);
  assert.equal((e as { code?: string }).code, 'LEASH_ERR_DEADLINE_EXCEEDED');
  assert.ok(performance.now() - started < 500, 'released at the timeout, though fn ignores its context');
  assert.equal(breaker.metrics.failedCalls, 1, "the timeout's own deadline is a failure");
  assert.equal(bh.active, 1, 'the permit stays with the work');
  work.resolve();
  await tick();
  assert.equal(bh.active, 0);
});

test('three observers on one race: every one is told (the third through a reaction of its own)', async () => {
  const b1 = bulkhead({ limit: 1 });
  const b2 = bulkhead({ limit: 1 });
  const b3 = bulkhead({ limit: 1 });
  const [ctx, cancel] = withCancel(background());
  const work = deferred<number>();
  const call = wrap(b1, b2, b3).execute(ctx, () => work.promise);
  assert.deepEqual([b1.active, b2.active, b3.active], [1, 1, 1]);
  work.resolve(3);
  assert.equal(await call, 3);
  await tick();
  assert.deepEqual([b1.active, b2.active, b3.active], [0, 0, 0]);
  cancel();
});

test('a policy called from fn while an outer race is being set up gets a race of its own', async () => {
  const outer = bulkhead({ limit: 1 });
  const inner = bulkhead({ limit: 1 });
  const [ctx, cancel] = withCancel(background());
  const innerWork = deferred<number>();
  let innerCall: Promise<number> | undefined;
  const outerCall = outer.execute(ctx, (c) => {
    innerCall = inner.execute(c, () => innerWork.promise);
    return Promise.resolve(1);
  });
  assert.equal(await outerCall, 1);
  await tick();
  assert.equal(outer.active, 0);
  assert.equal(inner.active, 1, 'the inner work is still running');
  innerWork.resolve(2);
  assert.equal(await innerCall, 2);
  await tick();
  assert.equal(inner.active, 0);
  cancel();
});

test('races are reused only once their work settled: interleaved calls, some cancelled, each get their own answer', async () => {
  const breaker = circuitBreaker({ window: { calls: 1000 }, minimumCalls: 1000 });
  const bh = bulkhead({ limit: 1000 });
  const p = wrap(breaker, bh);
  const t = timeout(1_000);
  const works = Array.from({ length: 300 }, () => deferred<number>());
  const cancels: (() => void)[] = [];
  const calls = works.map((w, i) => {
    const [ctx, cancel] = withCancel(background());
    cancels.push(cancel);
    const policy = i % 3 === 0 ? t : p;
    return policy
      .execute(ctx, () => w.promise)
      .then(
        (v) => ({ i, v }),
        (e: unknown) => ({ i, e }),
      );
  });
  // Settle in a scrambled order, cancelling every fifth caller first, with calls started between.
  const order = works.map((_, i) => (i * 7919) % works.length);
  const extra: Promise<number>[] = [];
  for (const i of order) {
    if (i % 5 === 0) cancels[i]?.();
    if (i % 2 === 0) works[i]?.resolve(i);
    else works[i]?.reject(new Error(`e${i}`));
    if (i % 10 === 0) {
      await tick();
      extra.push(p.execute(background(), async () => -i));
    }
  }
  const results = await Promise.all(calls);
  for (const r of results) {
    const { i } = r;
    if (i % 5 === 0) assert.ok('e' in r && r.e instanceof CanceledError, `call ${i} was cancelled first`);
    else if (i % 2 === 0) assert.deepEqual(r, { i, v: i });
    else assert.equal('e' in r && (r.e as Error).message, `e${i}`);
  }
  assert.deepEqual(
    await Promise.all(extra),
    order.filter((i) => i % 10 === 0).map((i) => -i),
  );
  await tick();
  assert.equal(bh.active, 0);
  assert.equal(breaker.metrics.calls, 200 + extra.length, 'every call through the pair was recorded once');
  assert.equal(heldCount(), 0);
  for (const c of cancels) c();
});

test('a reused race keeps no context of an earlier call alive', async () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return;
  const p = wrap(circuitBreaker(), bulkhead({ limit: 10 }));
  let ref: WeakRef<object> | undefined;
  await (async () => {
    const [ctx, cancel] = withCancel(background());
    ref = new WeakRef(ctx);
    for (let i = 0; i < 100; i++) await p.execute(ctx, async () => i);
    await timeout(100).execute(ctx, async () => 0);
    cancel();
  })();
  for (let i = 0; i < 5 && ref?.deref() !== undefined; i++) {
    await tick();
    gc();
  }
  assert.equal(ref?.deref(), undefined);
});
