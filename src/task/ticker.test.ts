import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { background, cause, withCancel, withTimeout } from '../context/index.js';
import { go, tasks } from './registry.js';
import { SignalError, signalContext } from './signal-context.js';
// Imported under another name: biome takes a bare after() for a test hook.
import { ticker, after as timeAfter } from './ticker.js';

const bg = background();
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('ticker', () => {
  test('ticks until the context ends, then the loop ends quietly and no timer remains', async () => {
    const base = timers();
    const [ctx, cancel] = withCancel(bg);
    const times: number[] = [];
    for await (const t of ticker(ctx, 10)) {
      times.push(t);
      if (times.length === 3) cancel();
    }
    assert.equal(times.length, 3);
    assert.ok(times[0]! <= times[1]! && times[1]! <= times[2]!);
    assert.equal(timers(), base);
  });

  test('a slow consumer gets the oldest waiting tick; the rest are dropped (Go)', async () => {
    const [ctx, cancel] = withCancel(bg);
    const it = ticker(ctx, 10);
    const first = await it.next();
    assert.equal(first.done, false);
    await wait(120); // about 12 ticks pass while we are busy
    const r1 = await it.next();
    const r2 = await it.next();
    assert.equal(r1.done, false);
    assert.equal(r2.done, false);
    // r1 is the one buffered tick, from long ago; r2 had to wait for a fresh one.
    assert.ok((r2.value as number) - (r1.value as number) >= 50, `${r1.value} then ${r2.value}`);
    cancel();
    assert.deepEqual(await it.next(), { value: undefined, done: true });
  });

  test('break stops the ticker at once', async () => {
    const base = timers();
    const [ctx, cancel] = withCancel(bg);
    for await (const _ of ticker(ctx, 5)) break;
    assert.equal(timers(), base);
    cancel();
  });

  test('a waiting consumer shows state sleeping; a done context yields nothing', async () => {
    const [ctx, cancel] = withCancel(bg);
    const h = go(ctx, async (ctx) => {
      for await (const _ of ticker(ctx, 60_000));
    });
    assert.equal(tasks().find((t) => t.id === h.id)?.state, 'sleeping');
    cancel();
    await h.done;
    let n = 0;
    for await (const _ of ticker(ctx, 1)) n++;
    assert.equal(n, 0);
  });

  test('a second next() while one is pending rejects with LEASH_ERR_INVALID_ARG', async () => {
    const [ctx, cancel] = withCancel(bg);
    const it = ticker(ctx, 60_000);
    const first = it.next();
    await assert.rejects(
      it.next(),
      (e: unknown) => (e as { code?: string }).code === 'LEASH_ERR_INVALID_ARG',
    );
    cancel();
    assert.deepEqual(await first, { value: undefined, done: true });
  });

  test('bad ms throws TypeError LEASH_ERR_INVALID_ARG', () => {
    for (const bad of [0, -1, Number.NaN, Infinity, '5', Object.create(null), { valueOf: () => 5 }]) {
      assert.throws(
        () => ticker(bg, bad as number),
        (e: unknown) => e instanceof TypeError && (e as { code?: string }).code === 'LEASH_ERR_INVALID_ARG',
      );
    }
  });

  test('the message for a bad period states the real rule, > 0, for 0 and for a negative alike', () => {
    for (const [ms, got] of [
      [0, 'the number 0'],
      [-1, 'the number -1'],
      [-0, 'the number -0'],
      [Number.POSITIVE_INFINITY, 'the number Infinity'],
    ] as const) {
      assert.throws(() => ticker(bg, ms), {
        name: 'TypeError',
        code: 'LEASH_ERR_INVALID_ARG',
        message: `ticker(ctx, ms): ms must be a finite number of milliseconds > 0, got ${got}`,
      });
    }
    // The smallest period accepted is any positive number.
    const [ctx, cancel] = withCancel(bg);
    assert.doesNotThrow(() => ticker(ctx, 0.5));
    cancel();
  });

  // Issue 10: setInterval turns a delay over 2^31-1 into 1 ms, so the ticker fired every millisecond.
  test('a period over 2^31-1 ms does not tick early (it waits in steps)', async () => {
    const [ctx, cancel] = withCancel(bg);
    const it = ticker(ctx, 2 ** 31 + 1_000);
    let ticked = false;
    it.next().then((r) => {
      if (!r.done) ticked = true;
    });
    await wait(50);
    assert.equal(ticked, false, 'a 24.8-day ticker ticked within 50 ms');
    cancel();
    await wait(0);
    assert.equal(timers(), 0, 'no timer remains');
  });

  test('a null-prototype ms is LEASH_ERR_INVALID_ARG, not "Cannot convert object to primitive value"', () => {
    assert.throws(() => ticker(bg, Object.create(null)), {
      code: 'LEASH_ERR_INVALID_ARG',
      message: /^ticker\(ctx, ms\): ms must be .*null prototype/,
    });
    assert.throws(() => timeAfter(bg, Object.create(null)), {
      code: 'LEASH_ERR_INVALID_ARG',
      message: /^after\(ctx, ms\): ms must be .*null prototype/,
    });
  });
});

describe('after', () => {
  test('resolves with the time after ms', async () => {
    const start = Date.now();
    const t = await timeAfter(bg, 20);
    assert.ok(t - start >= 15, `${t - start}`);
  });

  test('rejects with ctx.err when the context ends first, leaving no timer', async () => {
    const base = timers();
    const [ctx, cancel] = withTimeout(bg, 10);
    await assert.rejects(timeAfter(ctx, 60_000), (e) => e === ctx.err);
    assert.equal(timers(), base);
    cancel();
  });
});

describe('signalContext (signal.NotifyContext)', () => {
  test('cancelled with a SignalError cause on the first signal; the listener is removed', async () => {
    // SIGWINCH is ignored by default, so a test run is safe even if something goes wrong.
    const before = process.listenerCount('SIGWINCH');
    const [ctx, stop] = signalContext(bg, ['SIGWINCH']);
    assert.equal(process.listenerCount('SIGWINCH'), before + 1);
    // A signal handle does not keep the loop alive: hold it open while the signal arrives.
    const keep = setTimeout(() => {}, 5_000);
    process.kill(process.pid, 'SIGWINCH');
    await ctx.done;
    clearTimeout(keep);
    assert.ok(ctx.err);
    const c = cause(ctx);
    assert.ok(c instanceof SignalError);
    assert.equal(c.signal, 'SIGWINCH');
    assert.equal(c.code, 'LEASH_ERR_SIGNAL');
    await wait(0);
    assert.equal(process.listenerCount('SIGWINCH'), before);
    stop();
  });

  test('stop or the parent ending removes the listeners at once', async () => {
    const before = process.listenerCount('SIGWINCH');
    const [ctx, stop] = signalContext(bg, ['SIGWINCH', 'SIGWINCH']);
    assert.equal(process.listenerCount('SIGWINCH'), before + 1, 'duplicates listen once');
    stop();
    assert.equal(process.listenerCount('SIGWINCH'), before);
    assert.ok(ctx.err);
    stop(); // idempotent

    const [parent, cancelParent] = withCancel(bg);
    const [child] = signalContext(parent, ['SIGWINCH']);
    cancelParent();
    await child.done;
    await wait(0);
    assert.equal(process.listenerCount('SIGWINCH'), before);
  });

  test('the cancel function is Disposable', () => {
    const before = process.listenerCount('SIGWINCH');
    {
      using _stop = signalContext(bg, ['SIGWINCH'])[1];
      assert.equal(process.listenerCount('SIGWINCH'), before + 1);
    }
    assert.equal(process.listenerCount('SIGWINCH'), before);
  });

  test('bad signals throw TypeError LEASH_ERR_INVALID_ARG', () => {
    for (const bad of [[], 'SIGINT', ['SIGTERN'], [1], null, Object.create(null)]) {
      assert.throws(
        () => signalContext(bg, bad as never),
        (e: unknown) => (e as { code?: string }).code === 'LEASH_ERR_INVALID_ARG',
      );
    }
    assert.throws(() => signalContext(new AbortController().signal as never, ['SIGINT']), /fromSignal/);
  });

  // Issue 10: SIGKILL made Node throw a raw EINVAL after the SIGTERM listener was installed, and
  // from then on SIGTERM no longer stopped the process.
  test('an uncatchable signal is rejected before any listener is installed', () => {
    for (const signals of [
      ['SIGTERM', 'SIGKILL'],
      ['SIGTERM', 'SIGSTOP'],
    ] as NodeJS.Signals[][]) {
      const before = process.listenerCount('SIGTERM');
      assert.throws(() => signalContext(bg, signals), {
        code: 'LEASH_ERR_INVALID_ARG',
        message: /SIG(KILL|STOP) cannot be caught/,
      });
      assert.equal(process.listenerCount('SIGTERM'), before, 'no SIGTERM listener left behind');
    }
  });
});
