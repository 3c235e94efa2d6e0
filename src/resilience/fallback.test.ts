import assert from 'node:assert/strict';
import { test } from 'node:test';
import { background, sleep, withCancel } from '../context/index.js';
import { BrokenCircuitError, circuitBreaker, fallback, wrap } from './index.js';

const bg = background();

test('fallback answers a failure with fn(ctx, err), and passes a success through', async () => {
  const seen: unknown[] = [];
  const p = fallback(async (_ctx, err) => {
    seen.push(err);
    return 'stale';
  });
  assert.equal(await p.execute(bg, async () => 'fresh'), 'fresh');
  const boom = new Error('boom');
  assert.equal(
    await p.execute(bg, async () => {
      throw boom;
    }),
    'stale',
  );
  assert.deepEqual(seen, [boom]);
});

test('handles picks the errors that get the fallback; an open circuit is a typical one', async () => {
  const breaker = circuitBreaker();
  breaker.forceOpen();
  const p = wrap(
    fallback(async () => 'cached', { handles: (e) => e instanceof BrokenCircuitError }),
    breaker,
  );
  assert.equal(await p.execute(bg, async () => 'live'), 'cached');
  breaker.reset();
  await assert.rejects(
    p.execute(bg, async () => {
      throw new Error('not handled');
    }),
    /not handled/,
  );
});

test('a caller whose context ends gets ctx.err, never the fallback', async () => {
  let called = false;
  const p = fallback(async () => {
    called = true;
    return 'fallback';
  });
  const [ctx, cancel] = withCancel(bg);
  const call = p.execute(ctx, (c) => sleep(c, 1_000));
  cancel();
  await assert.rejects(call, (e) => e === ctx.err);
  await sleep(bg, 5);
  assert.equal(called, false);
  assert.throws(() => fallback('x' as never), { code: 'LEASH_ERR_INVALID_ARG' });
  assert.throws(() => fallback(async () => 1, { handle: () => true } as never), /did you mean "handles"/);
});
