import assert from 'node:assert/strict';
import { test } from 'node:test';
import { background, type Context, createKey, sleep, withCancel, withValue } from '../context/index.js';
import {
  bulkhead,
  circuitBreaker,
  constantBackoff,
  fallback,
  type Policy,
  retry,
  timeout,
  wrap,
} from './index.js';

test('wrap runs outermost first and hands each policy the inner one', async () => {
  const order: string[] = [];
  const tracer = (name: string): Policy => ({
    async execute(ctx, fn) {
      order.push(`${name}>`);
      try {
        return await fn(ctx);
      } finally {
        order.push(`<${name}`);
      }
    },
  });
  const v = await wrap(tracer('a'), tracer('b'), tracer('c')).execute(background(), async () => {
    order.push('fn');
    return 7;
  });
  assert.equal(v, 7);
  assert.deepEqual(order, ['a>', 'b>', 'c>', 'fn', '<c', '<b', '<a']);
});

test('wrap passes values and derived deadlines down to fn', async () => {
  const key = createKey<string>('user');
  const ctx = withValue(background(), key, 'ada');
  await wrap(retry({ maxAttempts: 2 }), timeout(1_000)).execute(ctx, async (c) => {
    assert.equal(c.value(key), 'ada');
    assert.ok(c.deadline !== undefined);
  });
});

test('retry through a breaker, each attempt under its own timeout', async () => {
  let calls = 0;
  const policy = wrap(
    retry({ maxAttempts: 3, backoff: constantBackoff(1) }),
    circuitBreaker({ window: { calls: 10 }, minimumCalls: 10 }),
    timeout(20),
  );
  const v = await policy.execute(background(), async (ctx: Context) => {
    calls++;
    if (calls < 3) await sleep(ctx, 1_000); // times out
    return 'ok';
  });
  assert.equal(v, 'ok');
  assert.equal(calls, 3);
});

test('a caller whose context ends gets ctx.err at once through any composition', async () => {
  const [ctx, cancel] = withCancel(background());
  const policy = wrap(
    fallback(async () => 'fallback'),
    retry({ maxAttempts: 5, backoff: constantBackoff(1) }),
    circuitBreaker(),
    bulkhead({ limit: 1 }),
    timeout(10_000),
  );
  const p = policy.execute(ctx, () => new Promise<string>(() => {}));
  setTimeout(cancel, 5);
  const t0 = performance.now();
  await assert.rejects(p, (e) => e === ctx.err);
  assert.ok(performance.now() - t0 < 100);
});

test('wrap with no policies calls fn; bad policies are rejected when wrapping', async () => {
  assert.equal(await wrap().execute(background(), async () => 1), 1);
  assert.throws(() => wrap({} as Policy), { code: 'LEASH_ERR_INVALID_ARG', message: /policies\[0\]/ });
});

test('a synchronous throw in fn becomes a rejection', async () => {
  await assert.rejects(
    wrap(timeout(100)).execute(background(), () => {
      throw new Error('sync');
    }),
    /sync/,
  );
});
