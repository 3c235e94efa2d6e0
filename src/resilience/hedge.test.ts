import assert from 'node:assert/strict';
import { test } from 'node:test';
import { background, type Context, cause, isCanceled, sleep, withCancel } from '../context/index.js';
import { deadlineTimerStats } from '../context/test-support/inspect.js';
import { hedge } from './index.js';

const bg = background();

test('a second attempt starts after afterMs; the first to succeed wins and the loser is cancelled', async () => {
  const ctxs: Context[] = [];
  const t0 = performance.now();
  const starts: number[] = [];
  const v = await hedge({ afterMs: 20 }).execute(bg, async (ctx) => {
    const i = ctxs.push(ctx) - 1;
    starts.push(performance.now() - t0);
    await sleep(ctx, i === 0 ? 1_000 : 5);
    return i;
  });
  assert.equal(v, 1, 'the hedge answered');
  assert.equal(ctxs.length, 2);
  assert.ok((starts[1] as number) >= 18, `hedged at ${starts[1]} ms`);
  assert.ok(isCanceled(ctxs[0]?.err), 'the loser is cancelled');
  assert.match(String((cause(ctxs[0] as Context) as Error).message), /other attempt answered first/);
});

test('no hedge when the first attempt answers in time; no timer left behind', async () => {
  const before = deadlineTimerStats().deadlines;
  let calls = 0;
  for (let i = 0; i < 100; i++) {
    await hedge({ afterMs: 50 }).execute(bg, async () => {
      calls++;
    });
  }
  assert.equal(calls, 100);
  assert.equal(deadlineTimerStats().deadlines, before);
});

test('one failed attempt waits for the other; both failing rejects with the last error', async () => {
  let n = 0;
  const v = await hedge({ afterMs: 5 }).execute(bg, async () => {
    const i = n++;
    await sleep(bg, i === 0 ? 15 : 30);
    if (i === 0) throw new Error('first failed');
    return 'second';
  });
  assert.equal(v, 'second');
  let m = 0;
  await assert.rejects(
    hedge({ afterMs: 5 }).execute(bg, async () => {
      const i = m++;
      await sleep(bg, 10);
      throw new Error(`fail ${i}`);
    }),
    /fail 1/,
  );
  // A first attempt that fails before the hedge time is not hedged.
  let k = 0;
  await assert.rejects(
    hedge({ afterMs: 50 }).execute(bg, async () => {
      k++;
      throw new Error('fast failure');
    }),
    /fast failure/,
  );
  await sleep(bg, 60);
  assert.equal(k, 1);
});

test('percentile: hedges after the given percentile of recent latency, once enough is known', async () => {
  const h = hedge({ percentile: 0.9, minSamples: 20 });
  assert.ok(Number.isNaN(h.delayMs));
  for (let i = 0; i < 20; i++) await h.execute(bg, () => sleep(bg, i < 18 ? 2 : 30));
  assert.ok(h.delayMs >= 25, `p90 ${h.delayMs}`);
});

test('a caller whose context ends gets ctx.err at once and both attempts are cancelled', async () => {
  const [ctx, cancel] = withCancel(bg);
  const ctxs: Context[] = [];
  const p = hedge({ afterMs: 2 }).execute(ctx, (c) => {
    ctxs.push(c);
    return sleep(c, 1_000);
  });
  await sleep(bg, 10);
  cancel();
  await assert.rejects(p, (e) => e === ctx.err);
  assert.equal(ctxs.length, 2);
  assert.ok(ctxs.every((c) => c.err !== undefined));
});

test('hedge options are validated when it is made', () => {
  for (const o of [{}, { afterMs: -1 }, { percentile: 95 }, { afterMs: 1, percentile: 0.5 }, 5]) {
    assert.throws(() => hedge(o as never), { name: 'TypeError', code: 'LEASH_ERR_INVALID_ARG' });
  }
  assert.throws(() => hedge({ aftrMs: 5 } as never), /did you mean "afterMs"/);
});
