// select semantics, ported from Go's runtime/chan_test.go (TestSelfSelect, TestSelectFairness,
// TestNonblockSelectRace, TestSelectDuplicateChannel) and the language spec's select rules.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { background, withCancel, withTimeout } from '../context/index.js';
import { Channel, queueSizes } from './channel.js';
import { ChannelClosedError } from './errors.js';
import { heldCount } from './keep-alive.js';
import { go, tasks } from './registry.js';
import { select } from './select.js';
import { assertInvalidArg as invalid } from './test-support/invalid-arg.js';

const bg = background();
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('select: ready cases', () => {
  test('a ready receive wins and carries value and ok', async () => {
    const a = new Channel<number>();
    const b = new Channel<string>(1);
    b.trySend('x');
    const r = await select(bg, [{ recv: a }, { recv: b }]);
    assert.deepEqual(r, { index: 1, value: 'x', ok: true });
  });

  test('a ready send wins', async () => {
    const a = new Channel<number>(1);
    const b = new Channel<number>();
    const r = await select(bg, [{ send: a, value: 1 }, { recv: b }]);
    assert.deepEqual(r, { index: 0 });
    assert.deepEqual(a.tryRecv(), { value: 1, ok: true });
  });

  test('a closed channel is ready for receive with ok: false', async () => {
    const a = new Channel<number>();
    a.close();
    assert.deepEqual(await select(bg, [{ recv: a }]), { index: 0, value: undefined, ok: false });
  });

  test('a chosen send case on a closed channel rejects with ChannelClosedError', async () => {
    const a = new Channel<number>();
    a.close();
    await assert.rejects(select(bg, [{ send: a, value: 1 }]), ChannelClosedError);
  });

  test('fairness: uniform among ready cases, chi-square bound (TestSelectFairness)', async () => {
    // Go's test: two ready channels, 10000 trials, each must win within bounds. Here: 4 ready
    // cases, 8000 trials, chi-square with 3 degrees of freedom < 16.27 (p = 0.001).
    const chans = [
      new Channel<number>(1),
      new Channel<number>(1),
      new Channel<number>(1),
      new Channel<number>(1),
    ];
    const counts = [0, 0, 0, 0];
    const trials = 8000;
    for (let i = 0; i < trials; i++) {
      for (const ch of chans) if (ch.length === 0) ch.trySend(i);
      const r = await select(bg, [
        { recv: chans[0]! },
        { recv: chans[1]! },
        { recv: chans[2]! },
        { recv: chans[3]! },
      ]);
      counts[r.index]!++;
    }
    const expected = trials / 4;
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    assert.ok(chi2 < 16.27, `chi2 ${chi2} counts ${counts}`);
  });

  test('fairness among mixed send and receive cases', async () => {
    const counts = [0, 0];
    for (let i = 0; i < 4000; i++) {
      const a = new Channel<number>(1);
      const b = new Channel<number>(1);
      b.trySend(1);
      const r = await select(bg, [{ send: a, value: 1 }, { recv: b }]);
      counts[r.index]!++;
    }
    const chi2 = counts.reduce((s, c) => s + (c - 2000) ** 2 / 2000, 0);
    assert.ok(chi2 < 10.83, `chi2 ${chi2} counts ${counts}`); // 1 dof, p = 0.001
  });

  test('default: resolves { index: -1 } when nothing is ready, registers nothing (TestNonblockSelectRace)', async () => {
    const a = new Channel<number>();
    const b = new Channel<number>();
    const r = await select(bg, [{ recv: a }, { send: b, value: 1 }], { default: true });
    assert.deepEqual(r, { index: -1 });
    assert.deepEqual(queueSizes(a), [0, 0]);
    assert.deepEqual(queueSizes(b), [0, 0]);
    a.close();
    assert.deepEqual(await select(bg, [{ recv: a }], { default: true }), {
      index: 0,
      value: undefined,
      ok: false,
    });
  });
});

describe('select: two receive cases (its own path: each case read once)', () => {
  test('fairness: two ready channels, 10000 trials (TestSelectFairness)', async () => {
    const a = new Channel<number>(1);
    const b = new Channel<number>(1);
    const counts = [0, 0];
    for (let i = 0; i < 10000; i++) {
      if (a.length === 0) a.trySend(i);
      if (b.length === 0) b.trySend(i);
      const r = await select(bg, [{ recv: a }, { recv: b }]);
      assert.equal(r.ok, true);
      counts[r.index]!++;
    }
    const chi2 = counts.reduce((s, c) => s + (c - 5000) ** 2 / 5000, 0);
    assert.ok(chi2 < 10.83, `chi2 ${chi2} counts ${counts}`); // 1 dof, p = 0.001
  });

  test('either case alone ready wins whichever is polled first, with its value; nothing else is taken', async () => {
    for (let i = 0; i < 64; i++) {
      const a = new Channel<number>(1);
      const b = new Channel<number>(1);
      const ready = i % 2;
      (ready === 0 ? a : b).trySend(i);
      assert.deepEqual(await select(bg, [{ recv: a }, { recv: b }]), { index: ready, value: i, ok: true });
      assert.equal(a.length + b.length, 0);
    }
  });

  test('a closed channel beside an empty one resolves ok: false for the closed one', async () => {
    for (let i = 0; i < 16; i++) {
      const a = new Channel<number>();
      const b = new Channel<number>();
      b.close();
      assert.deepEqual(await select(bg, [{ recv: a }, { recv: b }]), {
        index: 1,
        value: undefined,
        ok: false,
      });
      assert.deepEqual(queueSizes(a), [0, 0]);
    }
  });

  test('a done context rejects at once and takes from neither ready channel', async () => {
    const a = new Channel<number>(1);
    const b = new Channel<number>(1);
    a.trySend(1);
    b.trySend(2);
    const [ctx, cancel] = withCancel(bg);
    cancel();
    await assert.rejects(select(ctx, [{ recv: a }, { recv: b }]), (e) => e === ctx.err);
    assert.equal(a.length, 1);
    assert.equal(b.length, 1);
  });

  test('a blocked sender on either channel is taken (the unbuffered hand-off)', async () => {
    const a = new Channel<number>();
    const b = new Channel<number>();
    const sent = b.send(bg, 7);
    assert.deepEqual(await select(bg, [{ recv: a }, { recv: b }]), { index: 1, value: 7, ok: true });
    await sent;
    assert.deepEqual(queueSizes(b), [0, 0]);
  });

  test('nothing ready: blocks on both, and the losing case leaves its queue', async () => {
    const a = new Channel<number>();
    const b = new Channel<number>();
    const p = select(bg, [{ recv: a }, { recv: b }]);
    assert.deepEqual(queueSizes(a), [0, 1]);
    assert.deepEqual(queueSizes(b), [0, 1]);
    assert.equal(b.trySend(3), true);
    assert.deepEqual(await p, { index: 1, value: 3, ok: true });
    assert.deepEqual(queueSizes(a), [0, 0]);
  });

  test('a case whose recv getter answers differently when select blocks throws and leaves nothing queued', () => {
    const a = new Channel<number>();
    const b = new Channel<number>();
    let reads = 0;
    const flipping = {
      get recv() {
        return reads++ === 0 ? b : undefined;
      },
    };
    invalid(() => select(bg, [{ recv: a }, flipping] as never), /case 1 changed after it was checked/);
    assert.equal(reads, 2, 'read once to check and poll, once to enqueue');
    assert.deepEqual(queueSizes(a), [0, 0]);
    assert.deepEqual(queueSizes(b), [0, 0]);
  });

  test('a second case that is a send, or options, take the general path with the same results', async () => {
    const a = new Channel<number>(1);
    const b = new Channel<number>(1);
    a.trySend(1);
    const r = await select(bg, [{ recv: a }, { send: b, value: 2 }], { default: true });
    if (r.index === 0) assert.deepEqual([r, b.length], [{ index: 0, value: 1, ok: true }, 0]);
    else assert.deepEqual([r, a.length, b.tryRecv()], [{ index: 1 }, 1, { value: 2, ok: true }]);
    const c = new Channel<number>();
    const d = new Channel<number>();
    assert.deepEqual(await select(bg, [{ recv: c }, { recv: d }], { default: true }), { index: -1 });
  });
});

describe('select: blocking', () => {
  test('blocks until a case proceeds; the losing cases leave their queues at once', async () => {
    const a = new Channel<number>();
    const b = new Channel<number>();
    const c = new Channel<number>();
    const p = select(bg, [{ recv: a }, { recv: b }, { send: c, value: 9 }]);
    assert.deepEqual(queueSizes(a), [0, 1]);
    assert.deepEqual(queueSizes(c), [1, 0]);
    assert.equal(b.trySend(4), true);
    assert.deepEqual(await p, { index: 1, value: 4, ok: true });
    assert.deepEqual(queueSizes(a), [0, 0]);
    assert.deepEqual(queueSizes(c), [0, 0]);
    assert.equal(a.trySend(1), false, 'no receiver left behind on a');
  });

  test('a blocked send case completes when a receiver comes', async () => {
    const a = new Channel<number>();
    const p = select(bg, [{ send: a, value: 3 }]);
    assert.deepEqual(await a.recv(bg), { value: 3, ok: true });
    assert.deepEqual(await p, { index: 0 });
  });

  test('close wakes a blocked receive case with ok: false, fails a blocked send case', async () => {
    const a = new Channel<number>();
    const p = select(bg, [{ recv: a }]);
    a.close();
    assert.deepEqual(await p, { index: 0, value: undefined, ok: false });
    const b = new Channel<number>();
    const q = select(bg, [{ send: b, value: 1 }, { recv: new Channel<number>() }]);
    b.close();
    await assert.rejects(q, ChannelClosedError);
  });

  test('self-select: send and receive on one unbuffered channel never match each other (TestSelfSelect)', async () => {
    const ch = new Channel<number>();
    const [ctx, cancel] = withCancel(bg);
    // Two tasks each select { send, recv } on ch; they must pair up with each other, never with
    // themselves: every select that sends is matched by the other's receive.
    for (let round = 0; round < 200; round++) {
      const results = await Promise.all([
        select(ctx, [{ send: ch, value: 1 }, { recv: ch }]),
        select(ctx, [{ send: ch, value: 2 }, { recv: ch }]),
      ]);
      const [r0, r1] = results;
      assert.notEqual(r0.index, r1.index, `round ${round}: one sends, the other receives`);
      const received = r0.index === 1 ? r0 : r1;
      assert.ok('value' in received && received.ok);
      assert.equal(received.value, r0.index === 1 ? 2 : 1);
    }
    // A lone self-select blocks: it cannot match itself.
    const lone = select(ctx, [{ send: ch, value: 1 }, { recv: ch }]);
    await flush();
    assert.deepEqual(queueSizes(ch), [1, 1]);
    cancel();
    await assert.rejects(lone, (e) => e === ctx.err);
    assert.deepEqual(queueSizes(ch), [0, 0]);
  });

  test('the same channel in two receive cases (TestSelectDuplicateChannel)', async () => {
    const ch = new Channel<number>();
    const p = select(bg, [{ recv: ch }, { recv: ch }]);
    assert.deepEqual(queueSizes(ch), [0, 2]);
    ch.trySend(1);
    const r = await p;
    assert.ok(r.index === 0 || r.index === 1);
    assert.deepEqual(queueSizes(ch), [0, 0]);
  });

  test('context end rejects with ctx.err, unregisters every case and the keep-alive hold', async () => {
    const a = new Channel<number>();
    const b = new Channel<number>(0);
    const [ctx, cancel] = withTimeout(bg, 30);
    const p = select(ctx, [{ recv: a }, { send: b, value: 1 }]);
    assert.equal(heldCount(), 1);
    await assert.rejects(p, (e: unknown) => e === ctx.err && (e as Error).name === 'TimeoutError');
    assert.deepEqual(queueSizes(a), [0, 0]);
    assert.deepEqual(queueSizes(b), [0, 0]);
    assert.equal(heldCount(), 0);
    cancel();
  });

  test('a done context rejects at once even with a ready case', async () => {
    const a = new Channel<number>(1);
    a.trySend(1);
    const [ctx, cancel] = withCancel(bg);
    cancel();
    await assert.rejects(select(ctx, [{ recv: a }]), (e) => e === ctx.err);
    assert.equal(a.length, 1);
  });

  test('a select whose context just ended is skipped at hand-off', async () => {
    const a = new Channel<number>();
    const [c1, cancel1] = withCancel(bg);
    const s1 = select(c1, [{ recv: a }]);
    const r2 = a.recv(bg);
    cancel1();
    a.trySend(1);
    await assert.rejects(s1, (e) => e === c1.err);
    assert.deepEqual(await r2, { value: 1, ok: true });
  });

  test('select in a loop with a long-lived context leaves nothing registered', async () => {
    const [ctx, cancel] = withCancel(bg);
    const data = new Channel<number>();
    const quit = new Channel<void>();
    const producer = go(ctx, async (ctx) => {
      for (let i = 0; i < 1000; i++) await data.send(ctx, i);
      quit.close();
    });
    let sum = 0;
    for (;;) {
      const r = await select(ctx, [{ recv: data }, { recv: quit }]);
      if (r.index === 1) break;
      sum += r.value!;
    }
    await producer.done;
    assert.equal(sum, 499500);
    assert.deepEqual(queueSizes(data), [0, 0]);
    assert.deepEqual(queueSizes(quit), [0, 0]);
    cancel();
  });

  test('the blocked task shows state select', async () => {
    const [ctx, cancel] = withCancel(bg);
    const h = go(ctx, (ctx) => select(ctx, [{ recv: new Channel<number>() }]), { name: 'selecting' });
    assert.equal(tasks().find((t) => t.id === h.id)?.state, 'select');
    cancel();
    await assert.rejects(h.done);
  });

  test('bad cases throw TypeError LEASH_ERR_INVALID_ARG', () => {
    const isInvalid = (e: unknown) =>
      e instanceof TypeError && (e as { code?: string }).code === 'LEASH_ERR_INVALID_ARG';
    assert.throws(() => select(bg, [{ recv: {} }] as never), isInvalid);
    assert.throws(() => select(bg, [{ send: new Channel<number>() }] as never), isInvalid);
    assert.throws(() => select(bg, null as never), isInvalid);
  });

  test('zero cases block until the context ends (Go: select {})', async () => {
    const [ctx, cancel] = withCancel(bg);
    const p = select(ctx, []);
    cancel();
    await assert.rejects(p, (e) => e === ctx.err);
  });
});

describe('select: types', () => {
  test('results are typed per case and send values are checked against the channel', async () => {
    const nums = new Channel<number>(1);
    const strs = new Channel<string>(1);
    strs.trySend('s');
    const r = await select(bg, [{ recv: nums }, { recv: strs }, { send: nums, value: 1 }]);
    if (r.index === 1) {
      const v: string | undefined = r.value;
      assert.equal(v, 's');
    } else if (r.index === 0) {
      const v: number | undefined = r.value;
      assert.equal(typeof v, 'number');
    } else {
      const v: undefined = r.value; // a send case's result carries no value
      assert.equal(v, undefined);
    }
    const d = await select(bg, [{ recv: nums }], { default: true });
    const idx: -1 | 0 = d.index;
    assert.ok(idx === -1 || idx === 0);
    if (false as boolean) {
      // @ts-expect-error a string cannot be sent on a Channel<number>
      await select(bg, [{ send: nums, value: 'nope' }]);
    }
  });
});

describe('select: bad input (LEASH_ERR_INVALID_ARG)', () => {
  test('options: { default: 1 }, a typo, a non-object are rejected before any case is polled', () => {
    const ch = new Channel<number>(1);
    ch.trySend(1);
    invalid(
      () => select(bg, [{ recv: ch }], { default: 1 } as unknown as { default: true }),
      /^select\(ctx, cases, opts\): opts\.default must be true or false, got the number 1/,
    );
    invalid(
      () => select(bg, [{ recv: ch }], { defualt: true } as unknown as { default: true }),
      /unknown option "defualt"; did you mean "default"\?/,
    );
    invalid(
      () => select(bg, [{ recv: ch }], true as unknown as { default: true }),
      /options must be an object/,
    );
    assert.equal(ch.length, 1, 'nothing was taken');
  });

  test('a case holding a Channel only in `send` is a send case, as the check said, whatever its `recv` holds', async () => {
    // The check and the passes decide a case's kind by one rule (a Channel in `recv` receives,
    // else a Channel in `send` with a `value` sends). Before, the check accepted this case as a
    // send and the passes ran it as a receive (its `recv` key is present): a raw TypeError
    // ("reading '_poll'") from a select the check had let through.
    const hybrid = { recv: undefined, send: undefined as unknown, value: 7 };
    const buffered = new Channel<number>(1);
    hybrid.send = buffered;
    const r = await select(bg, [hybrid] as unknown as [{ send: Channel<number>; value: number }]);
    assert.deepEqual(r, { index: 0 });
    assert.deepEqual(buffered.tryRecv(), { value: 7, ok: true });

    // The same case when it has to wait (an unbuffered channel, no receiver yet).
    const unbuffered = new Channel<number>();
    hybrid.send = unbuffered;
    const waiting = select(bg, [hybrid] as unknown as [{ send: Channel<number>; value: number }]);
    assert.deepEqual(await unbuffered.recv(bg), { value: 7, ok: true });
    assert.deepEqual(await waiting, { index: 0 });

    // A Channel in `recv` makes a receive case even beside a send.
    const other = new Channel<number>(1);
    buffered.trySend(3);
    const both = { recv: buffered, send: other, value: 9 };
    const rb = await select(bg, [both] as unknown as [{ recv: Channel<number> }]);
    assert.deepEqual(rb, { index: 0, value: 3, ok: true });
    assert.equal(other.length, 0, 'nothing was sent');
  });

  test('a case that answers the check and the select differently (a getter) throws, and leaves nothing queued', () => {
    const flipping = (ch: Channel<number>) => {
      let reads = 0;
      // The first read (the check) sees a Channel, every later one does not.
      return {
        get recv() {
          return reads++ === 0 ? ch : undefined;
        },
      };
    };
    const a = new Channel<number>();
    const b = new Channel<number>();
    // Polled: a receive case whose recv then reads undefined and has no send.
    invalid(
      () => select(bg, [flipping(a)] as never),
      /case 0 changed after it was checked \(a getter or Proxy\?\)/,
    );
    // Enqueued: case 0 is queued on `a` before case 1 turns out to have changed.
    const stable = { recv: a };
    let phase = 0;
    const laterFlip = {
      get send() {
        phase++;
        // check, poll: a Channel (b has no receiver, so the poll does not send); enqueue: not.
        return phase <= 2 ? b : undefined;
      },
      value: 1,
    };
    invalid(() => select(bg, [stable, laterFlip] as never), /case 1 changed after it was checked/);
    assert.deepEqual(queueSizes(a as Channel<unknown>), [0, 0], 'the receive case left its queue');
    assert.deepEqual(queueSizes(b as Channel<unknown>), [0, 0]);
  });

  test('a bad case or ctx names select and says what it got', () => {
    invalid(
      () => select(bg, [{ recv: 5 }] as unknown as [{ recv: Channel<number> }]),
      /case 0 must be.*got an object/,
    );
    invalid(() => select(bg, 'x' as unknown as []), /cases must be an array.*got the string "x"/);
    invalid(
      () => (select as (...a: unknown[]) => unknown)(),
      /^select\(ctx, cases, opts\): ctx must be a Context.*got undefined/,
    );
  });
});

describe('select: strict types', () => {
  test('if (r.index === 0 && r.ok) narrows value to the element type', async () => {
    const nums = new Channel<number>(1);
    const names = new Channel<string>(1);
    nums.trySend(5);
    const r = await select(bg, [{ recv: nums }, { send: names, value: 'x' }]);
    if (r.index === 0 && r.ok) {
      const n: number = r.value;
      assert.equal(n, 5);
    } else if (r.index === 1) {
      assert.equal(names.length, 1);
    }
    if (false as boolean) {
      // @ts-expect-error a boolean cannot be sent on a Channel<string>
      await select(bg, [{ send: names, value: true }]);
    }
  });
});
