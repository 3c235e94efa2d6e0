// Channel semantics, ported from Go's runtime/chan_test.go where the cases apply to a
// single-threaded runtime (TestChan, TestNonblockRecvRace, TestMultiConsumer, close semantics),
// plus leash's context rules: a blocked operation whose context ends rejects with ctx.err, leaves
// the queue at once, and never takes or delivers a value.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { background, type Context, withCancel, withTimeout } from '../context/index.js';
import { wrapping } from '../context/test-support/foreign.js';
import { Channel, queueSizes } from './channel.js';
import { ChannelClosedError } from './errors.js';
import { heldCount } from './keep-alive.js';
import { go, taskCount, tasks } from './registry.js';
import { assertInvalidArg as invalid } from './test-support/invalid-arg.js';
import { registeredWatchCount } from './wait-queue.js';

const bg = background();
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

// settled reports a promise's state after pending microtasks have run.
async function settled<T>(p: Promise<T>): Promise<'pending' | { value: T } | { error: unknown }> {
  let state: 'pending' | { value: T } | { error: unknown } = 'pending';
  p.then(
    (value) => {
      state = { value };
    },
    (error: unknown) => {
      state = { error };
    },
  );
  await flush();
  return state;
}

describe('Channel: construction', () => {
  test('capacity and length', () => {
    const ch = new Channel<number>(3);
    assert.equal(ch.capacity, 3);
    assert.equal(ch.length, 0);
    ch.trySend(1);
    ch.trySend(2);
    assert.equal(ch.length, 2);
    assert.equal(new Channel().capacity, 0);
  });

  test('bad capacity throws TypeError LEASH_ERR_INVALID_ARG', () => {
    for (const bad of [-1, 1.5, Number.NaN, '3', Infinity, 2 ** 30 + 1]) {
      assert.throws(
        () => new Channel(bad as number),
        (e: unknown) => e instanceof TypeError && (e as { code?: string }).code === 'LEASH_ERR_INVALID_ARG',
      );
    }
  });
});

describe('Channel: unbuffered is a rendezvous (TestChan)', () => {
  test('send blocks until a receiver takes the value', async () => {
    const ch = new Channel<number>();
    const sent = ch.send(bg, 42);
    assert.equal(await settled(sent), 'pending');
    assert.equal(ch.length, 0);
    assert.deepEqual(await ch.recv(bg), { value: 42, ok: true });
    assert.deepEqual(await settled(sent), { value: undefined });
  });

  test('recv blocks until a sender comes', async () => {
    const ch = new Channel<string>();
    const got = ch.recv(bg);
    assert.equal(await settled(got), 'pending');
    await ch.send(bg, 'x'); // resolves at once: the receiver was waiting
    assert.deepEqual(await got, { value: 'x', ok: true });
  });

  test('trySend fails with no receiver, tryRecv fails with no sender (non-blocking ops)', async () => {
    const ch = new Channel<number>();
    assert.equal(ch.trySend(1), false);
    assert.equal(ch.tryRecv(), undefined);
    const got = ch.recv(bg);
    assert.equal(ch.trySend(7), true);
    assert.deepEqual(await got, { value: 7, ok: true });
    const sent = ch.send(bg, 8);
    assert.deepEqual(ch.tryRecv(), { value: 8, ok: true });
    await sent;
  });

  test('ping-pong between two tasks keeps order (TestChan, cap 0)', async () => {
    const ch = new Channel<number>();
    const N = 1000;
    const producer = go(bg, async (ctx) => {
      for (let i = 0; i < N; i++) await ch.send(ctx, i);
    });
    for (let i = 0; i < N; i++) assert.deepEqual(await ch.recv(bg), { value: i, ok: true });
    await producer.done;
  });
});

describe('Channel: buffered', () => {
  test('FIFO order for every capacity (TestChan)', async () => {
    for (const cap of [1, 2, 3, 7, 16, 17, 100]) {
      const ch = new Channel<number>(cap);
      for (let i = 0; i < cap; i++) await ch.send(bg, i);
      assert.equal(ch.length, cap);
      assert.equal(ch.trySend(-1), false, 'full buffer');
      for (let i = 0; i < cap; i++) assert.deepEqual(ch.tryRecv(), { value: i, ok: true });
      assert.equal(ch.tryRecv(), undefined);
      // Wrap the ring around several times.
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < cap; i++) assert.equal(ch.trySend(round * 1000 + i), true);
        for (let i = 0; i < cap; i++) assert.deepEqual(ch.tryRecv(), { value: round * 1000 + i, ok: true });
      }
    }
  });

  test('a full buffer blocks senders; receives pull them in, in order', async () => {
    const ch = new Channel<number>(2);
    await ch.send(bg, 0);
    await ch.send(bg, 1);
    const s2 = ch.send(bg, 2);
    const s3 = ch.send(bg, 3);
    assert.equal(await settled(s2), 'pending');
    assert.deepEqual(queueSizes(ch), [2, 0]);
    const got: number[] = [];
    for (let i = 0; i < 4; i++) got.push((await ch.recv(bg)).value!);
    assert.deepEqual(got, [0, 1, 2, 3]);
    await s2;
    await s3;
    assert.equal(ch.length, 0);
  });

  test('many producers and consumers: every value exactly once (TestMultiConsumer)', async () => {
    for (const cap of [0, 1, 10]) {
      const ch = new Channel<number>(cap);
      const results = new Channel<number>(100);
      const N = 2000;
      const consumers = Array.from({ length: 5 }, () =>
        go(bg, async (ctx) => {
          let sum = 0;
          let n = 0;
          for await (const v of ch.range(ctx)) {
            sum += v;
            n++;
          }
          await results.send(ctx, sum);
          return n;
        }),
      );
      const producers = Array.from({ length: 4 }, (_, p) =>
        go(bg, async (ctx) => {
          for (let i = p; i < N; i += 4) await ch.send(ctx, i);
        }),
      );
      await Promise.all(producers.map((h) => h.done));
      ch.close();
      const counts = await Promise.all(consumers.map((h) => h.done));
      let sum = 0;
      for (let i = 0; i < 5; i++) sum += (await results.recv(bg)).value!;
      assert.equal(
        counts.reduce((a, b) => a + b, 0),
        N,
      );
      assert.equal(sum, (N * (N - 1)) / 2);
    }
  });
});

describe('Channel: close', () => {
  test('close wakes every blocked receiver with ok: false', async () => {
    const ch = new Channel<number>();
    const waiting = [ch.recv(bg), ch.recv(bg), ch.recv(bg)];
    ch.close();
    for (const r of await Promise.all(waiting)) assert.deepEqual(r, { value: undefined, ok: false });
    assert.deepEqual(await ch.recv(bg), { value: undefined, ok: false });
    assert.deepEqual(ch.tryRecv(), { value: undefined, ok: false });
  });

  test('buffered values are drained before ok: false', async () => {
    const ch = new Channel<number>(3);
    ch.trySend(1);
    ch.trySend(2);
    ch.close();
    assert.equal(ch.closed, true);
    assert.deepEqual(await ch.recv(bg), { value: 1, ok: true });
    assert.deepEqual(ch.tryRecv(), { value: 2, ok: true });
    assert.deepEqual(await ch.recv(bg), { value: undefined, ok: false });
  });

  test('pending and later sends reject with ChannelClosedError; trySend throws it', async () => {
    const ch = new Channel<number>();
    const pending = ch.send(bg, 1);
    ch.close();
    await assert.rejects(pending, ChannelClosedError);
    await assert.rejects(ch.send(bg, 2), (e: unknown) => {
      assert.ok(e instanceof ChannelClosedError);
      assert.equal(e.code, 'LEASH_ERR_CHANNEL_CLOSED');
      return true;
    });
    assert.throws(() => ch.trySend(3), ChannelClosedError);
    assert.deepEqual(queueSizes(ch), [0, 0]);
  });

  test('closing twice throws ChannelClosedError', () => {
    const ch = new Channel<number>(1);
    ch.close();
    assert.throws(
      () => ch.close(),
      (e: unknown) => e instanceof ChannelClosedError && /close of closed/.test(e.message),
    );
  });
});

describe('Channel: contexts', () => {
  test('an operation on a done context rejects at once with ctx.err, even if the channel is ready', async () => {
    const ch = new Channel<number>(1);
    ch.trySend(1);
    const [ctx, cancel] = withCancel(bg);
    cancel();
    await assert.rejects(ch.recv(ctx), (e) => e === ctx.err);
    await assert.rejects(ch.send(ctx, 2), (e) => e === ctx.err);
    assert.equal(ch.length, 1, 'nothing taken');
  });

  test('cancel rejects a blocked recv with ctx.err and removes it from the queue', async () => {
    const ch = new Channel<number>();
    const [ctx, cancel] = withCancel(bg);
    const got = ch.recv(ctx);
    assert.deepEqual(queueSizes(ch), [0, 1]);
    cancel();
    await assert.rejects(got, (e) => e === ctx.err);
    assert.deepEqual(queueSizes(ch), [0, 0]);
  });

  test('a blocked send under a deadline rejects with DeadlineExceededError; the value is not delivered', async () => {
    const ch = new Channel<number>();
    // Take the start time first: a pause between the two lines must not shorten the measured wait.
    const started = Date.now();
    const [ctx, cancel] = withTimeout(bg, 20);
    await assert.rejects(
      ch.send(ctx, 1),
      (e: unknown) => e === ctx.err && (e as Error).name === 'TimeoutError',
    );
    assert.ok(Date.now() - started >= 15);
    assert.equal(ch.tryRecv(), undefined);
    assert.deepEqual(queueSizes(ch), [0, 0]);
    assert.equal(heldCount(), 0);
    cancel();
  });

  test('a value is never handed to a receiver whose context just ended (checked at hand-off)', async () => {
    const ch = new Channel<number>();
    const [c1, cancel1] = withCancel(bg);
    const r1 = ch.recv(c1);
    const r2 = ch.recv(bg);
    cancel1(); // err is set now; the removal callback has not run yet
    assert.equal(ch.trySend(5), true);
    await assert.rejects(r1, (e) => e === c1.err);
    assert.deepEqual(await r2, { value: 5, ok: true });
  });

  test('a receive never takes from a sender whose context just ended', async () => {
    const ch = new Channel<number>();
    const [c1, cancel1] = withCancel(bg);
    const s1 = ch.send(c1, 1);
    const s2 = ch.send(bg, 2);
    cancel1();
    assert.deepEqual(ch.tryRecv(), { value: 2, ok: true });
    await assert.rejects(s1, (e) => e === c1.err);
    await s2;
    assert.equal(ch.tryRecv(), undefined);
  });

  test('range ends quietly when the context ends, and when the channel is closed and drained', async () => {
    const ch = new Channel<number>(2);
    ch.trySend(1);
    const [ctx, cancel] = withCancel(bg);
    const got: number[] = [];
    const loop = (async () => {
      for await (const v of ch.range(ctx)) {
        got.push(v);
        if (got.length === 1) setImmediate(cancel);
      }
    })();
    await loop;
    assert.deepEqual(got, [1]);
    assert.deepEqual(queueSizes(ch), [0, 0]);

    const ch2 = new Channel<number>(3);
    ch2.trySend(1);
    ch2.trySend(2);
    ch2.close();
    const all: number[] = [];
    for await (const v of ch2.range(bg)) all.push(v);
    assert.deepEqual(all, [1, 2]);
  });

  test('breaking out of range takes nothing more', async () => {
    const ch = new Channel<number>(3);
    for (const v of [1, 2, 3]) ch.trySend(v);
    for await (const v of ch.range(bg)) {
      assert.equal(v, 1);
      break;
    }
    assert.equal(ch.length, 2);
  });
});

describe('Channel: task states', () => {
  test('a blocked task shows chan send / chan receive, then running again', async () => {
    const ch = new Channel<number>();
    const [ctx, cancel] = withCancel(bg);
    const state = (name: string) => tasks().find((t) => t.name === name)?.state;
    const r = go(ctx, async (ctx: Context) => (await ch.recv(ctx)).value, { name: 'receiver' });
    assert.equal(state('receiver'), 'chan receive');
    const s = go(ctx, async (ctx: Context) => ch.send(ctx, 1), { name: 'sender' });
    assert.equal(state('sender'), 'running', 'the send completed at once');
    assert.equal(r.state, 'running', 'woken');
    assert.equal(await r.done, 1);
    await s.done;
    const blocked = go(ctx, async (ctx: Context) => ch.send(ctx, 2), { name: 'blocked-sender' });
    assert.equal(state('blocked-sender'), 'chan send');
    cancel();
    await assert.rejects(blocked.done);
    assert.equal(taskCount(), 0);
  });
});

describe('Channel: leaks', () => {
  test('waiters cancelled with a deadline release their keep-alive hold', async () => {
    const ch = new Channel<number>();
    const [ctx, cancel] = withTimeout(bg, 60_000);
    const ps = [ch.recv(ctx), ch.send(ctx, 1)];
    // the receive was waiting: the send completed it, and neither holds the process now
    await Promise.all(ps);
    const blocked = ch.recv(ctx);
    assert.equal(heldCount(), 1);
    cancel();
    await assert.rejects(blocked);
    assert.equal(heldCount(), 0);
    assert.deepEqual(
      process.getActiveResourcesInfo().filter((r) => r === 'Timeout'),
      [],
    );
  });
});

describe('Channel: bad input says what it got (issue 8)', () => {
  test('new Channel("4") says it got a string; a null-prototype object is rejected', () => {
    invalid(
      () => new Channel('4' as unknown as number),
      /^new Channel\(capacity\): capacity must be an integer.*got the string "4"/,
    );
    invalid(() => new Channel(Object.create(null) as number), /got an object with a null prototype/);
    invalid(() => new Channel({ valueOf: () => 4 } as unknown as number), /got an object/);
  });

  test('recv() with no context names the call and says "got undefined" once', () => {
    const ch = new Channel<number>();
    invalid(
      () => (ch.recv as () => unknown)(),
      /^Channel\.recv\(ctx\): ctx must be a Context.*got undefined$/,
    );
    assert.throws(
      () => (ch.recv as () => unknown)(),
      (e: unknown) => !/undefined undefined/.test((e as Error).message),
    );
    invalid(() => ch.send(new AbortController().signal as unknown as Context, 1), /fromSignal/);
  });
});

describe('Channel: types', () => {
  test('RecvResult narrows by ok', async () => {
    const ch = new Channel<number>(1);
    ch.trySend(3);
    const r = await ch.recv(bg);
    if (r.ok) {
      const n: number = r.value; // narrowed: no `| undefined`
      assert.equal(n, 3);
    } else {
      const u: undefined = r.value;
      assert.fail(`unexpected ${u}`);
    }
  });
});

describe('the registration of blocked operations on their context', () => {
  test('a foreign Context (not built by leash) that ends rejects the operation blocked on it, and leaves no registration', async () => {
    // leash's own contexts keep the registration in a field; a foreign one in a WeakMap.
    const [inner, cancel] = withCancel(bg);
    const foreign = wrapping(inner);
    const ch = new Channel<number>();
    const first = ch.recv(foreign);
    const second = ch.recv(foreign);
    assert.equal(registeredWatchCount([foreign]), 1, 'one registration for both operations');
    cancel();
    await assert.rejects(first, (e) => e === inner.err);
    await assert.rejects(second, (e) => e === inner.err);
    assert.deepEqual(queueSizes(ch as Channel<unknown>), [0, 0]);
    assert.equal(registeredWatchCount([foreign]), 0);
  });

  test('a leash context keeps one registration while operations block on it, and none once the event loop turns', async () => {
    const [ctx, cancel] = withCancel(bg);
    const ch = new Channel<number>();
    const r = ch.recv(ctx);
    assert.equal(registeredWatchCount([ctx]), 1);
    await ch.send(ctx, 7);
    assert.deepEqual(await r, { value: 7, ok: true });
    await flush();
    assert.equal(registeredWatchCount([ctx]), 0, 'swept once idle');
    // And it registers again for the next blocked operation, which its end still reaches.
    const again = ch.recv(ctx);
    assert.equal(registeredWatchCount([ctx]), 1);
    cancel();
    await assert.rejects(again, (e) => e === ctx.err);
  });
});
