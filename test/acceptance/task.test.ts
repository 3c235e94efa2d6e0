// Acceptance tests for the `leashjs/task` export, written from the task contract (docs/task.md) and issue 3
// alone (not from the implementation). They import through the package name, as a user would.
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawnSync } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  background,
  CanceledError,
  type Context,
  cause,
  DeadlineExceededError,
  isCanceled,
  sleep,
  withCancel,
  withTimeout,
} from 'leashjs';
import {
  Channel,
  ChannelClosedError,
  Group,
  go,
  type SelectCase,
  select,
  signalContext,
  type TaskInfo,
  taskCount,
  taskOf,
  tasks,
  ticker,
  after as timeAfter,
} from 'leashjs/task';
import { quietWarnings } from '../support/quiet-warnings.js';
import { delay, expectInvalid, isPending, turn } from './support.js';

// Several tests make a task fail with nobody reading done, on purpose; they observe the warning.
quietWarnings('LeashTaskWarning');

const errOf = (ctx: Context): Error | undefined => ctx.err;
const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

function isClosedError(e: unknown): boolean {
  return e instanceof ChannelClosedError && e.code === 'LEASH_ERR_CHANNEL_CLOSED' && e instanceof Error;
}

/** cancelAfterTurns returns a cancellable context that cancels itself after `turns` event-loop turns (never when null). */
function cancelAfterTurns(turns: number | null): [Context, () => void] {
  const [ctx, cancel] = withCancel(background());
  if (turns !== null) {
    let n = turns;
    const step = () => (n-- <= 0 ? cancel() : setImmediate(step));
    step();
  }
  return [ctx, cancel];
}

const info = (id: number): TaskInfo | undefined => tasks().find((t) => t.id === id);

async function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(2);
  }
}

function runScript(script: string) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 15_000,
  });
}

describe('go and the task registry', () => {
  test('registers the task until it settles, with id, name, state and start time', async () => {
    const before = taskCount();
    let release!: (v: number) => void;
    const gate = new Promise<number>((r) => {
      release = r;
    });
    const t0 = Date.now();
    const h = go(background(), async () => gate, { name: 'worker' });
    assert.equal(typeof h.id, 'number');
    assert.equal(h.name, 'worker');
    assert.equal(taskCount(), before + 1);
    const e = info(h.id);
    assert.ok(e, 'in tasks()');
    assert.equal(e.name, 'worker');
    assert.equal(e.parentId, undefined);
    assert.equal(e.state, 'running');
    assert.ok(e.startedAt >= t0 - 1 && e.startedAt <= Date.now());
    release(7);
    assert.equal(await h.done, 7);
    await turn();
    assert.equal(info(h.id), undefined, 'dropped once settled');
    assert.equal(taskCount(), before);
    assert.equal(h.state, 'done');
  });

  test('a failed task leaves the registry and its handle reads failed', async () => {
    const before = taskCount();
    const boom = new Error('boom');
    const h = go(background(), async () => {
      await turn();
      throw boom;
    });
    await assert.rejects(h.done, (e) => e === boom);
    await turn();
    assert.equal(taskCount(), before);
    assert.equal(info(h.id), undefined);
    assert.equal(h.state, 'failed');
  });

  test('the parent task is found without the caller passing it, across awaits', async () => {
    let childId = -1;
    let grandId = -1;
    let childInfo: TaskInfo | undefined;
    let grandInfo: TaskInfo | undefined;
    const parent = go(background(), async (ctx) => {
      await turn();
      const child = go(ctx, async (ctx) => {
        await delay(1);
        const grand = go(ctx, async () => {
          await delay(20);
        });
        grandId = grand.id;
        grandInfo = info(grand.id);
        await grand.done;
      });
      childId = child.id;
      childInfo = info(child.id);
      await child.done;
    });
    await parent.done;
    assert.equal(childInfo?.parentId, parent.id);
    assert.equal(grandInfo?.parentId, childId);
    assert.notEqual(grandId, -1);
    const top = go(background(), async () => {});
    assert.equal(info(top.id)?.parentId, undefined, 'a task started outside any task has no parent');
    await top.done;
  });

  test('ids are unique', async () => {
    const hs = Array.from({ length: 50 }, () => go(background(), async () => {}));
    assert.equal(new Set(hs.map((h) => h.id)).size, 50);
    await Promise.all(hs.map((h) => h.done));
  });

  test('fn receives the context it was given', async () => {
    const [ctx, cancel] = withCancel(background());
    const h = go(ctx, async (c) => c);
    const got = await h.done;
    cancel();
    assert.ok(got.err instanceof CanceledError, 'the task context follows the given one');
  });

  test('a synchronous throw in fn rejects done instead of throwing from go', async () => {
    const boom = new Error('sync');
    const h = go(background(), (() => {
      throw boom;
    }) as unknown as (ctx: Context) => Promise<void>);
    await assert.rejects(h.done, (e) => e === boom);
  });

  test('a rejection nobody observes is reported as a process warning and on leash:task:unhandled', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const published: unknown[] = [];
    const onMessage = (m: unknown) => published.push(m);
    diagnostics.subscribe('leash:task:unhandled', onMessage);
    try {
      const boom = new Error('nobody listens');
      go(background(), async () => {
        throw boom;
      });
      await until(() => warnings.length > 0 && published.length > 0, 'a warning', 1000);
      assert.ok(
        warnings.some((w) =>
          /nobody listens|unhandled|unobserved/i.test(
            `${w.message} ${String((w as { code?: string }).code)}`,
          ),
        ),
      );
    } finally {
      process.off('warning', onWarning);
      diagnostics.unsubscribe('leash:task:unhandled', onMessage);
    }
  });

  test('a rejection whose done is awaited is not reported', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const h = go(background(), async () => {
        throw new Error('handled');
      });
      await assert.rejects(h.done);
      await delay(20);
      assert.deepEqual(warnings, []);
    } finally {
      process.off('warning', onWarning);
    }
  });

  test('bad input is rejected', async () => {
    await expectInvalid(() => go(background(), 'x' as unknown as () => Promise<void>), 'go non-function');
    await expectInvalid(() => go(undefined as unknown as Context, async () => {}), 'go undefined ctx');
  });
});

describe('task states', () => {
  test('each blocking operation shows its state, and running again afterwards', async () => {
    const [ctx, cancel] = withCancel(background());
    const ch = new Channel<number>();
    const out = new Channel<number>();
    let release!: () => void;
    const plain = new Promise<void>((r) => {
      release = r;
    });
    const recv = go(ctx, async (c) => {
      await ch.recv(c);
      await plain; // running: not in a leash operation
    });
    const send = go(ctx, (c) => out.send(c, 1));
    const sel = go(ctx, async (c) => {
      await select(c, [{ recv: new Channel<number>() }, { recv: new Channel<string>() }]);
    });
    const sleeper = go(ctx, (c) => sleep(c, 60_000));
    const waiter = go(ctx, async (c) => {
      const g = new Group(c);
      g.go((gc) => sleep(gc, 60_000));
      await g.wait();
    });
    await until(
      () =>
        info(recv.id)?.state === 'chan receive' &&
        info(send.id)?.state === 'chan send' &&
        info(sel.id)?.state === 'select' &&
        info(sleeper.id)?.state === 'sleeping' &&
        info(waiter.id)?.state === 'group wait',
      `states: ${JSON.stringify(tasks().map((t) => [t.id, t.state]))}`,
    );
    assert.equal(recv.state, 'chan receive', 'the handle shows the live state too');
    assert.ok(ch.trySend(5));
    await until(() => info(recv.id)?.state === 'running', 'back to running');
    release();
    await recv.done;
    cancel();
    for (const h of [send, sel, sleeper, waiter]) await assert.rejects(h.done, (e) => isCanceled(e));
  });
});

describe('Group', () => {
  test('wait resolves once every task has succeeded, then g.ctx is cancelled and go throws', async () => {
    const g = new Group(background());
    const done: number[] = [];
    for (let i = 0; i < 5; i++)
      g.go(async () => {
        await delay(5 * i);
        done.push(i);
      });
    await g.wait();
    assert.equal(done.length, 5);
    assert.ok(g.ctx.err instanceof CanceledError, 'g.ctx is cancelled after wait');
    let thrown: unknown;
    try {
      g.go(async () => {});
    } catch (e) {
      thrown = e;
    }
    assert.ok(thrown instanceof Error, 'go after wait settled throws');
    assert.equal((thrown as { code?: string }).code, 'LEASH_ERR_GROUP_DONE');
    await g.wait(); // again: same outcome
  });

  test('wait with no tasks resolves', async () => {
    await new Group(background()).wait();
  });

  test('the first error cancels g.ctx with it as cause; wait rejects with it after every task settled', async () => {
    const g = new Group(background());
    const first = new Error('first');
    const second = new Error('second');
    let slowFinished = false;
    let siblingSaw: unknown;
    g.go(async () => {
      await delay(5);
      throw first;
    });
    g.go(async () => {
      await delay(40);
      throw second;
    });
    g.go(async (ctx) => {
      try {
        await sleep(ctx, 60_000);
      } catch (e) {
        siblingSaw = e;
      }
    });
    g.go(async () => {
      await delay(80); // ignores ctx
      slowFinished = true;
    });
    await assert.rejects(g.wait(), (e) => e === first);
    assert.equal(slowFinished, true, 'wait settles only after every task');
    assert.ok(g.ctx.err instanceof CanceledError);
    assert.equal(cause(g.ctx), first);
    assert.ok(siblingSaw instanceof CanceledError);
    await assert.rejects(g.wait(), (e) => e === first, 'a second wait settles the same way');
  });

  test('a group task failure is not reported as unobserved', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const g = new Group(background());
      g.go(async () => {
        throw new Error('group failure');
      });
      await delay(20);
      await assert.rejects(g.wait());
      await delay(10);
      assert.deepEqual(warnings, []);
    } finally {
      process.off('warning', onWarning);
    }
  });

  test('cancelling the parent cancels g.ctx', async () => {
    const [parent, cancel] = withCancel(background());
    const g = new Group(parent);
    g.go((ctx) => sleep(ctx, 60_000));
    cancel();
    assert.ok(g.ctx.err instanceof CanceledError);
    await assert.rejects(g.wait(), (e) => isCanceled(e));
  });

  test('tasks may start more tasks before wait settles', async () => {
    const g = new Group(background());
    let inner = false;
    g.go(async () => {
      await delay(5);
      g.go(async () => {
        await delay(20);
        inner = true;
      });
    });
    await g.wait();
    assert.equal(inner, true);
  });

  test('limit bounds concurrency; every task still runs', async () => {
    const g = new Group(background(), { limit: 2 });
    let running = 0;
    let max = 0;
    let ran = 0;
    for (let i = 0; i < 8; i++)
      g.go(async () => {
        running++;
        max = Math.max(max, running);
        await delay(10);
        running--;
        ran++;
      });
    assert.ok(running <= 2);
    await g.wait();
    assert.equal(max, 2);
    assert.equal(ran, 8);
  });

  test('limit: after the first error, queued tasks never run', async () => {
    const g = new Group(background(), { limit: 1 });
    const boom = new Error('boom');
    let ran = 0;
    g.go(async () => {
      await delay(5);
      throw boom;
    });
    for (let i = 0; i < 3; i++)
      g.go(async () => {
        ran++;
      });
    await assert.rejects(g.wait(), (e) => e === boom);
    assert.equal(ran, 0);
  });

  test('limit: the parent ending drops queued work and wait does not report success', async () => {
    const [parent, cancel] = withCancel(background());
    const g = new Group(parent, { limit: 1 });
    let ran = 0;
    g.go(async () => {
      await delay(20);
    });
    g.go(async () => {
      ran++;
    });
    cancel();
    await assert.rejects(g.wait(), (e) => isCanceled(e));
    assert.equal(ran, 0);
  });

  test('asyncDispose cancels g.ctx and waits for every task', async () => {
    let finished = false;
    let ctxSeen: Context | undefined;
    {
      await using g = new Group(background());
      ctxSeen = g.ctx;
      g.go(async (ctx) => {
        await sleep(ctx, 60_000).catch(() => {});
        await delay(10);
        finished = true;
      });
    }
    assert.equal(finished, true);
    assert.ok(ctxSeen.err instanceof CanceledError);
  });

  test('asyncDispose without wait does not lose a task error', async () => {
    const boom = new Error('lost?');
    await assert.rejects(
      (async () => {
        await using g = new Group(background());
        g.go(async () => {
          throw boom;
        });
        await delay(5);
      })(),
      (e) => e === boom || (e as { error?: unknown }).error === boom,
    );
  });

  test('bad input is rejected', async () => {
    await expectInvalid(() => new Group({} as Context), 'Group non-context');
    await expectInvalid(() => new Group(background(), { limit: Number.NaN }), 'limit NaN');
    await expectInvalid(() => new Group(background(), { limit: 1.5 }), 'limit 1.5');
    await expectInvalid(() => new Group(background(), { limit: '2' as unknown as number }), "limit '2'");
    const g = new Group(background());
    await expectInvalid(() => g.go('x' as unknown as () => Promise<void>), 'g.go non-function');
    await g.wait();
  });
});

describe('Channel', () => {
  test('unbuffered is a rendezvous', async () => {
    const ch = new Channel<string>();
    assert.equal(ch.capacity, 0);
    assert.equal(ch.length, 0);
    const sent = ch.send(background(), 'a');
    assert.equal(await isPending(sent), true, 'send waits for a receiver');
    assert.equal(ch.length, 0);
    assert.deepEqual(await ch.recv(background()), { value: 'a', ok: true });
    await sent;
    const got = ch.recv(background());
    assert.equal(await isPending(got), true, 'recv waits for a sender');
    await ch.send(background(), 'b');
    assert.deepEqual(await got, { value: 'b', ok: true });
  });

  test('buffered holds capacity items in FIFO order, then blocks; blocked senders are FIFO', async () => {
    const ch = new Channel<number>(2);
    assert.equal(ch.capacity, 2);
    await ch.send(background(), 1);
    await ch.send(background(), 2);
    assert.equal(ch.length, 2);
    const s3 = ch.send(background(), 3);
    const s4 = ch.send(background(), 4);
    assert.equal(await isPending(s3), true);
    const got: number[] = [];
    for (let i = 0; i < 4; i++) got.push((await ch.recv(background())).value as number);
    assert.deepEqual(got, [1, 2, 3, 4]);
    await s3;
    await s4;
    assert.equal(ch.length, 0);
  });

  test('blocked receivers are served in order', async () => {
    const ch = new Channel<number>();
    const rs = [ch.recv(background()), ch.recv(background()), ch.recv(background())];
    await turn();
    for (const v of [10, 20, 30]) await ch.send(background(), v);
    assert.deepEqual(
      (await Promise.all(rs)).map((r) => r.value),
      [10, 20, 30],
    );
  });

  test('close wakes every receiver with ok false', async () => {
    const ch = new Channel<number>();
    const rs = [ch.recv(background()), ch.recv(background())];
    await turn();
    ch.close();
    for (const r of await Promise.all(rs)) assert.deepEqual(r, { value: undefined, ok: false });
    assert.deepEqual(await ch.recv(background()), { value: undefined, ok: false });
    assert.deepEqual(ch.tryRecv(), { value: undefined, ok: false });
  });

  test('close: buffered values are drained first, then ok false', async () => {
    const ch = new Channel<number>(3);
    await ch.send(background(), 1);
    await ch.send(background(), 2);
    ch.close();
    assert.equal(ch.length, 2);
    assert.deepEqual(await ch.recv(background()), { value: 1, ok: true });
    assert.deepEqual(ch.tryRecv(), { value: 2, ok: true });
    assert.deepEqual(await ch.recv(background()), { value: undefined, ok: false });
  });

  test('close fails pending and later sends with ChannelClosedError; closing twice throws', async () => {
    const ch = new Channel<number>(1);
    await ch.send(background(), 1);
    const pending = ch.send(background(), 2);
    await turn();
    ch.close();
    await assert.rejects(pending, isClosedError);
    await assert.rejects(ch.send(background(), 3), isClosedError);
    assert.throws(() => ch.trySend(4), isClosedError);
    assert.throws(() => ch.close(), isClosedError);
    assert.deepEqual(await ch.recv(background()), { value: 1, ok: true }, 'the buffered value survives');
    assert.deepEqual(await ch.recv(background()), { value: undefined, ok: false });
  });

  test('a pending unbuffered send fails on close and its value is never received', async () => {
    const ch = new Channel<number>();
    const pending = ch.send(background(), 1);
    await turn();
    ch.close();
    await assert.rejects(pending, isClosedError);
    assert.deepEqual(await ch.recv(background()), { value: undefined, ok: false });
  });

  test('ChannelClosedError has the stable code', () => {
    const e = new ChannelClosedError();
    assert.equal(e.code, 'LEASH_ERR_CHANNEL_CLOSED');
    assert.ok(e instanceof Error);
    assert.ok(e.message.length > 0);
  });

  test('trySend / tryRecv never block', async () => {
    const ch = new Channel<number>();
    assert.equal(ch.trySend(1), false, 'no receiver');
    assert.equal(ch.tryRecv(), undefined, 'no sender');
    const r = ch.recv(background());
    await turn();
    assert.equal(ch.trySend(2), true, 'to a waiting receiver');
    assert.deepEqual(await r, { value: 2, ok: true });
    const s = ch.send(background(), 3);
    await turn();
    assert.deepEqual(ch.tryRecv(), { value: 3, ok: true }, 'from a waiting sender');
    await s;
    const b = new Channel<number>(1);
    assert.equal(b.trySend(1), true);
    assert.equal(b.trySend(2), false, 'buffer full');
    assert.deepEqual(b.tryRecv(), { value: 1, ok: true });
    assert.equal(b.tryRecv(), undefined);
  });

  test('a receive whose context ends rejects with ctx.err and leaves the queue at once', async () => {
    const ch = new Channel<number>();
    const [ctx, cancel] = withCancel(background());
    const r = ch.recv(ctx);
    await turn();
    cancel();
    assert.equal(ch.trySend(1), false, 'the cancelled receiver takes nothing, even before a turn');
    await assert.rejects(r, (e) => e === ctx.err);
    assert.equal(ch.trySend(1), false);
  });

  test('a send whose context ends rejects with ctx.err and delivers nothing', async () => {
    const ch = new Channel<number>();
    const [ctx, cancel] = withCancel(background());
    const s = ch.send(ctx, 1);
    await turn();
    cancel();
    assert.equal(ch.tryRecv(), undefined, 'the value is not delivered, even before a turn');
    await assert.rejects(s, (e) => e === ctx.err);
    assert.equal(ch.tryRecv(), undefined);
    const b = new Channel<number>(1);
    await b.send(background(), 0);
    const [ctx2] = withTimeout(background(), 20);
    await assert.rejects(b.send(ctx2, 1), (e) => e instanceof DeadlineExceededError && e === ctx2.err);
    assert.deepEqual(b.tryRecv(), { value: 0, ok: true });
    assert.equal(b.tryRecv(), undefined);
  });

  test('operations on an already-done context reject with ctx.err', async () => {
    const [ctx, cancel] = withCancel(background());
    cancel();
    const ch = new Channel<number>(1);
    await assert.rejects(ch.recv(ctx), (e) => e === ctx.err);
    await assert.rejects(
      ch.send(ctx, 1).then(() => ch.tryRecv()),
      (e) => e === ctx.err,
    );
  });

  test('range yields until closed and drained', async () => {
    const ch = new Channel<number>(1);
    const producer = go(background(), async (ctx) => {
      for (let i = 0; i < 5; i++) await ch.send(ctx, i);
      ch.close();
    });
    const got: number[] = [];
    for await (const v of ch.range(background())) got.push(v);
    assert.deepEqual(got, [0, 1, 2, 3, 4]);
    await producer.done;
  });

  test('range ends when ctx ends, without taking more', async () => {
    const ch = new Channel<number>(4);
    const [ctx, cancel] = withCancel(background());
    await ch.send(background(), 1);
    const got: number[] = [];
    for await (const v of ch.range(ctx)) {
      got.push(v);
      setTimeout(cancel, 10);
    }
    assert.deepEqual(got, [1]);
    assert.ok(ctx.err);
    await ch.send(background(), 2);
    assert.deepEqual(ch.tryRecv(), { value: 2, ok: true });
  });

  test('leaving range early takes nothing more', async () => {
    const ch = new Channel<number>(4);
    for (const v of [1, 2, 3]) ch.trySend(v);
    for await (const v of ch.range(background())) {
      assert.equal(v, 1);
      break;
    }
    assert.equal(ch.length, 2);
    assert.deepEqual(ch.tryRecv(), { value: 2, ok: true });
  });

  test('bad capacity is rejected', async () => {
    await expectInvalid(() => new Channel(-1), 'capacity -1');
    await expectInvalid(() => new Channel(1.5), 'capacity 1.5');
    await expectInvalid(() => new Channel(Number.NaN), 'capacity NaN');
    await expectInvalid(() => new Channel('2' as unknown as number), "capacity '2'");
    await expectInvalid(() => new Channel(1).recv({} as Context), 'recv non-context');
  });

  test('random interleavings of send, recv, select and cancel never lose or duplicate a value', async () => {
    type Op = { kind: 'send' | 'recv' | 'selSend' | 'selRecv'; cancelAfter: number | null };
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3 }),
        fc.array(
          fc.record({
            kind: fc.constantFrom('send', 'recv', 'selSend', 'selRecv') as fc.Arbitrary<Op['kind']>,
            cancelAfter: fc.option(fc.integer({ min: 0, max: 3 })),
          }),
          { maxLength: 24 },
        ),
        async (cap, ops) => {
          const ch = new Channel<number>(cap);
          const other = new Channel<number>();
          const sentOk: number[] = [];
          const received: number[] = [];
          const all: Promise<unknown>[] = [];
          const cancels: Array<() => void> = [];
          ops.forEach((op, i) => {
            const [ctx, cancel] = cancelAfterTurns(op.cancelAfter);
            cancels.push(cancel);
            let p: Promise<unknown>;
            if (op.kind === 'send') p = ch.send(ctx, i).then(() => sentOk.push(i));
            else if (op.kind === 'recv')
              p = ch.recv(ctx).then((r) => {
                assert.equal(r.ok, true);
                received.push(r.value as number);
              });
            else if (op.kind === 'selSend')
              p = select(ctx, [{ send: ch, value: i }, { recv: other }]).then((r) => {
                assert.equal(r.index, 0);
                sentOk.push(i);
              });
            else
              p = select(ctx, [{ recv: other }, { recv: ch }]).then((r) => {
                assert.equal(r.index, 1);
                if (r.index === 1) received.push(r.value as number);
              });
            all.push(
              p.catch((e) => {
                if (!isCanceled(e)) throw e;
              }),
            );
          });
          for (let t = 0; t < 5; t++) await turn();
          for (const c of cancels) c();
          await Promise.all(all);
          ch.close();
          for (let r = ch.tryRecv(); r?.ok; r = ch.tryRecv()) received.push(r.value as number);
          assert.deepEqual(
            [...received].sort((a, b) => a - b),
            [...sentOk].sort((a, b) => a - b),
          );
          assert.equal(other.trySend(1), false, 'no select case left behind on the other channel');
        },
      ),
      { numRuns: 150 },
    );
  });

  test('many cancelled blocked operations leave the heap flat', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    const ch = new Channel<number>();
    const [long, cancelLong] = withCancel(background());
    const run = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const [ctx, cancel] = withCancel(long);
        const p = i % 2 ? ch.recv(ctx) : ch.send(ctx, i);
        cancel();
        await p.catch(() => {});
      }
    };
    await run(100_000);
    await turn();
    gc?.();
    const before = process.memoryUsage().heapUsed;
    await run(100_000);
    gc?.();
    const grown = process.memoryUsage().heapUsed - before;
    if (gc) assert.ok(grown < 2_000_000, `heap grew ${grown}`);
    assert.equal(ch.trySend(1), false);
    assert.equal(ch.tryRecv(), undefined);
    cancelLong();
  });
});

describe('select', () => {
  test('picks uniformly at random among ready cases (chi-square)', async () => {
    const chans = [new Channel<number>(1), new Channel<number>(1), new Channel<number>(1)];
    for (const c of chans) c.trySend(0);
    const counts = [0, 0, 0];
    const n = 3000;
    for (let i = 0; i < n; i++) {
      const r = await select(background(), [{ recv: chans[0]! }, { recv: chans[1]! }, { recv: chans[2]! }]);
      counts[r.index]!++;
      assert.equal(chans[r.index]!.trySend(0), true);
    }
    const expected = n / 3;
    const chi = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    assert.ok(chi < 30, `counts ${counts} chi-square ${chi}`);
  });

  test('a ready send case among ready receives is also chosen fairly', async () => {
    const out = new Channel<number>(1);
    const inp = new Channel<number>(1);
    let sends = 0;
    for (let i = 0; i < 1000; i++) {
      inp.trySend(1);
      out.tryRecv();
      const r = await select(background(), [{ send: out, value: i }, { recv: inp }]);
      if (r.index === 0) sends++;
      inp.tryRecv();
    }
    assert.ok(sends > 400 && sends < 600, `send chosen ${sends} of 1000`);
  });

  test('default makes it non-blocking', async () => {
    const ch = new Channel<number>();
    const r = await select(background(), [{ recv: ch }, { send: ch, value: 1 }], { default: true });
    assert.equal(r.index, -1);
    assert.equal(ch.trySend(1), false, 'nothing left registered');
    const b = new Channel<number>(1);
    b.trySend(9);
    const r2 = await select(background(), [{ recv: ch }, { recv: b }], { default: true });
    assert.equal(r2.index, 1);
    assert.deepEqual(
      { value: (r2 as { value?: unknown }).value, ok: (r2 as { ok?: unknown }).ok },
      { value: 9, ok: true },
    );
    assert.equal((await select(background(), [], { default: true })).index, -1);
  });

  test('blocks until a case is ready; the losing receive leaves nothing behind', async () => {
    const a = new Channel<string>();
    const b = new Channel<string>();
    const p = select(background(), [{ recv: a }, { recv: b }]);
    assert.equal(await isPending(p), true);
    assert.equal(a.trySend('x'), true);
    const r = await p;
    assert.equal(r.index, 0);
    if (r.index === 0) assert.deepEqual([r.value, r.ok], ['x', true]);
    assert.equal(b.trySend('y'), false, 'the losing case is unregistered');
  });

  test('the losing send case delivers nothing', async () => {
    const a = new Channel<number>();
    const b = new Channel<number>();
    const p = select(background(), [{ recv: a }, { send: b, value: 42 }]);
    await turn();
    assert.equal(a.trySend(1), true);
    assert.equal((await p).index, 0);
    assert.equal(b.tryRecv(), undefined);
  });

  test('a send case completes with a waiting receiver', async () => {
    const a = new Channel<number>();
    const got = a.recv(background());
    await turn();
    const r = await select(background(), [{ send: a, value: 5 }, { recv: new Channel<number>() }]);
    assert.equal(r.index, 0);
    assert.deepEqual(await got, { value: 5, ok: true });
  });

  test('a closed channel makes a receive case ready with ok false; a send case rejects', async () => {
    const ch = new Channel<number>();
    ch.close();
    const r = await select(background(), [{ recv: ch }, { recv: new Channel<number>() }]);
    assert.equal(r.index, 0);
    if (r.index === 0) assert.equal(r.ok, false);
    const closed = new Channel<number>();
    closed.close();
    await assert.rejects(select(background(), [{ send: closed, value: 1 }]), isClosedError);
  });

  test('ctx ending rejects with ctx.err and unregisters every case', async () => {
    const a = new Channel<number>();
    const b = new Channel<number>();
    const [ctx, cancel] = withCancel(background());
    const p = select(ctx, [{ recv: a }, { send: b, value: 1 }]);
    await turn();
    cancel();
    assert.equal(a.trySend(1), false);
    assert.equal(b.tryRecv(), undefined);
    await assert.rejects(p, (e) => e === ctx.err);
    assert.equal(a.trySend(1), false);
    assert.equal(b.tryRecv(), undefined);
  });

  test('a select never matches itself on one unbuffered channel', async () => {
    const ch = new Channel<number>();
    const r = await select(background(), [{ send: ch, value: 1 }, { recv: ch }], { default: true });
    assert.equal(r.index, -1);
    const [ctx] = withTimeout(background(), 30);
    await assert.rejects(
      select(ctx, [{ send: ch, value: 1 }, { recv: ch }]),
      (e) => e instanceof DeadlineExceededError,
    );
  });

  test('no cases blocks until ctx ends', async () => {
    const [ctx] = withTimeout(background(), 20);
    await assert.rejects(select(ctx, []), (e) => e === ctx.err);
  });

  test('bad input is rejected', async () => {
    await expectInvalid(() => select(background(), 'x' as unknown as SelectCase[]), 'cases string');
    await expectInvalid(() => select(background(), [{}] as unknown as SelectCase[]), 'case {}');
    await expectInvalid(() => select({} as Context, []), 'non-context');
  });
});

describe('ticker and after', () => {
  test('ticker yields tick times every ms until ctx ends, then no timer remains', async () => {
    const before = timeouts();
    const [ctx, cancel] = withCancel(background());
    const t0 = Date.now();
    const ticks: number[] = [];
    for await (const t of ticker(ctx, 20)) {
      ticks.push(t);
      if (ticks.length === 3) setTimeout(cancel, 5);
    }
    assert.ok(ticks.length >= 3);
    assert.ok(Date.now() - t0 >= 55, 'three ticks of 20 ms take about 60 ms');
    for (let i = 1; i < ticks.length; i++) assert.ok(ticks[i]! >= ticks[i - 1]!);
    assert.ok(Math.abs(ticks[0]! - (t0 + 20)) < 200);
    await turn();
    assert.equal(timeouts(), before);
  });

  test('break stops the ticker at once', async () => {
    const before = timeouts();
    for await (const _ of ticker(background(), 10)) break;
    await turn();
    assert.equal(timeouts(), before);
  });

  test('a slow consumer gets one waiting tick, not a backlog', async () => {
    const [ctx, cancel] = withCancel(background());
    const it = ticker(ctx, 25)[Symbol.asyncIterator]();
    await it.next();
    await delay(200); // about eight ticks pass
    const t1 = Date.now();
    const heldTick = (await it.next()).value as number; // the one held tick
    const held = Date.now() - t1;
    assert.ok(t1 - heldTick >= 100, `the held tick is the oldest waiting one (age ${t1 - heldTick} ms)`);
    await it.next(); // must wait for a fresh tick
    await it.next();
    const waited = Date.now() - t1;
    assert.ok(held < 20, `held tick took ${held} ms`);
    assert.ok(waited >= 15, `two more ticks after a stall came after ${waited} ms: ticks were queued`);
    cancel();
    await it.return?.();
  });

  test('after resolves with the time after ms, rejects with ctx.err, leaves no timer', async () => {
    const before = timeouts();
    const t0 = Date.now();
    const t = await timeAfter(background(), 20);
    assert.equal(typeof t, 'number');
    assert.ok(t >= t0 + 15 && t <= Date.now());
    const [ctx, cancel] = withCancel(background());
    const p = timeAfter(ctx, 60_000);
    setTimeout(cancel, 5);
    await assert.rejects(p, (e) => e === ctx.err);
    await turn();
    assert.equal(timeouts(), before);
  });

  test('bad intervals are rejected', async () => {
    await expectInvalid(() => ticker(background(), 0)[Symbol.asyncIterator]().next(), 'ticker 0');
    await expectInvalid(() => ticker(background(), -5)[Symbol.asyncIterator]().next(), 'ticker -5');
    await expectInvalid(() => ticker(background(), Number.NaN)[Symbol.asyncIterator]().next(), 'ticker NaN');
    await expectInvalid(() => timeAfter(background(), -1), 'after -1');
  });
});

describe('signalContext', () => {
  test('cancel and parent cancel remove the listeners', async () => {
    const base = process.listenerCount('SIGUSR2');
    const [ctx, stop] = signalContext(background(), ['SIGUSR2', 'SIGHUP']);
    assert.equal(errOf(ctx), undefined);
    assert.equal(process.listenerCount('SIGUSR2'), base + 1);
    const baseHup = process.listenerCount('SIGHUP');
    stop();
    assert.ok(ctx.err instanceof CanceledError);
    await turn();
    assert.equal(process.listenerCount('SIGUSR2'), base);
    assert.equal(process.listenerCount('SIGHUP'), baseHup - 1);
    const [parent, cancel] = withCancel(background());
    const [ctx2] = signalContext(parent, ['SIGUSR2']);
    cancel();
    assert.ok(ctx2.err instanceof CanceledError);
    await turn();
    assert.equal(process.listenerCount('SIGUSR2'), base);
  });

  test('the first signal cancels the context (in a child process)', () => {
    const r = runScript(`
      import { background, cause, isCanceled } from 'leashjs';
      import { signalContext } from 'leashjs/task';
      const keep = setTimeout(() => {}, 10000); // signal listeners alone do not keep a process alive
      const [ctx, stop] = signalContext(background(), ['SIGUSR2']);
      process.kill(process.pid, 'SIGUSR2');
      await ctx.done;
      clearTimeout(keep);
      await new Promise((r) => setImmediate(r));
      console.log(isCanceled(ctx.err), cause(ctx)?.signal ?? String(cause(ctx)), process.listenerCount('SIGUSR2'));
      stop();`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'true SIGUSR2 0');
  });

  test('bad input is rejected', async () => {
    await expectInvalid(() => signalContext({} as Context, ['SIGUSR2']), 'non-context');
  });
});

describe('keep-alive and leak patterns', () => {
  test('await ch.recv(ctx) on a silent channel under a deadline rejects at the deadline', () => {
    const r = runScript(`
      import { withTimeout, background } from 'leashjs';
      import { Channel } from 'leashjs/task';
      const [ctx] = withTimeout(background(), 150);
      const t = Date.now();
      new Channel().recv(ctx).then(() => console.log('value'), (e) => console.log(e.name, Date.now() - t >= 100));`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'TimeoutError true');
  });

  test('select and Group.wait under a deadline keep the process alive until it', () => {
    const r = runScript(`
      import { withTimeout, background } from 'leashjs';
      import { Channel, Group, select } from 'leashjs/task';
      const [ctx] = withTimeout(background(), 150);
      select(ctx, [{ recv: new Channel() }]).then(() => console.log('value'), (e) => console.log('select', e.name));
      const [ctx2] = withTimeout(background(), 200);
      const g = new Group(ctx2);
      g.go((c) => new Channel().send(c, 1));
      g.wait().then(() => console.log('ok'), (e) => console.log('group', e.name));`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'select TimeoutError\ngroup TimeoutError');
  });

  test("the article's patterns leave no task and no timer behind", async () => {
    const baseTasks = taskCount();
    const baseTimers = timeouts();
    const [ctx, cancel] = withTimeout(background(), 60);
    // a receive nobody sends to
    const silent = go(ctx, async (c) => {
      await new Channel<number>().recv(c);
    });
    // a range over a never-closed channel
    const feed = new Channel<number>(1);
    feed.trySend(1);
    const ranger = go(ctx, async (c) => {
      let n = 0;
      for await (const _ of feed.range(c)) n++;
      return n;
    });
    // a ticker loop
    const ticking = go(ctx, async (c) => {
      let n = 0;
      for await (const _ of ticker(c, 10)) n++;
      return n;
    });
    // fan-out where one task fails
    const fan = go(ctx, async (c) => {
      const g = new Group(c);
      g.go(async () => {
        throw new Error('one fails');
      });
      for (let i = 0; i < 5; i++) g.go((gc) => new Channel<number>().send(gc, i));
      await g.wait();
    });
    await assert.rejects(silent.done, (e) => e instanceof DeadlineExceededError);
    assert.equal(await ranger.done, 1);
    assert.ok((await ticking.done) >= 1);
    await assert.rejects(fan.done, /one fails/);
    cancel();
    await turn();
    assert.equal(taskCount(), baseTasks);
    assert.equal(timeouts(), baseTimers);
  });
});

describe('task edge cases a Go engineer checks', () => {
  test('undefined is a value like any other', async () => {
    const b = new Channel<undefined>(1);
    await b.send(background(), undefined);
    assert.deepEqual(b.tryRecv(), { value: undefined, ok: true });
    assert.equal(b.tryRecv(), undefined);
    const u = new Channel<undefined>();
    const s = u.send(background(), undefined);
    assert.deepEqual(await u.recv(background()), { value: undefined, ok: true });
    await s;
  });

  test('a blocked select wakes on close: receive gets ok false, send rejects', async () => {
    const a = new Channel<number>();
    const p = select(background(), [{ recv: a }]);
    await turn();
    a.close();
    const r = await p;
    assert.equal(r.index, 0);
    assert.equal((r as { ok?: boolean }).ok, false);
    const b = new Channel<number>();
    const q = select(background(), [{ send: b, value: 1 }]);
    await turn();
    b.close();
    await assert.rejects(q, isClosedError);
  });

  test('select picks fairly between two blocked senders', async () => {
    const a = new Channel<number>();
    const b = new Channel<number>();
    const [ctx, cancel] = withCancel(background());
    const feeders = [a, b].map((ch) =>
      go(ctx, async (c) => {
        for (;;) await ch.send(c, 1);
      }),
    );
    let first = 0;
    for (let i = 0; i < 600; i++) {
      await turn();
      const r = await select(background(), [{ recv: a }, { recv: b }]);
      if (r.index === 0) first++;
    }
    cancel();
    for (const f of feeders) await assert.rejects(f.done, (e) => isCanceled(e));
    assert.ok(first > 210 && first < 390, `case 0 chosen ${first} of 600`);
  });

  test('ticker and after on an already-done context', async () => {
    const [ctx, cancel] = withCancel(background());
    cancel();
    let n = 0;
    for await (const _ of ticker(ctx, 5)) n++;
    assert.equal(n, 0);
    await assert.rejects(timeAfter(ctx, 5), (e) => e === ctx.err);
  });

  test('signalContext under an already-cancelled parent is done and adds no listener', async () => {
    const base = process.listenerCount('SIGUSR2');
    const [p, cancel] = withCancel(background());
    cancel();
    const [ctx, stop] = signalContext(p, ['SIGUSR2']);
    assert.ok(ctx.err instanceof CanceledError);
    await turn();
    assert.equal(process.listenerCount('SIGUSR2'), base);
    stop();
  });

  test('Group: a synchronous throw and a rejection with a non-Error both fail the group', async () => {
    const boom = new Error('sync');
    const g = new Group(background());
    g.go((() => {
      throw boom;
    }) as unknown as (ctx: Context) => Promise<void>);
    await assert.rejects(g.wait(), (e) => e === boom);
    const g2 = new Group(background());
    g2.go(async () => {
      throw 'text';
    });
    await assert.rejects(g2.wait(), (e) => e === 'text');
    assert.equal(cause(g2.ctx), 'text');
    const g3 = new Group(background());
    g3.go(() => Promise.reject(undefined));
    let settled = 'resolved';
    await g3.wait().catch(() => {
      settled = 'rejected';
    });
    assert.equal(settled, 'rejected', 'a task rejecting with undefined still failed');
  });

  test('Group: asyncDispose after wait already reported the error does not throw again', async () => {
    await (async () => {
      await using g = new Group(background());
      g.go(async () => {
        throw new Error('x');
      });
      await assert.rejects(g.wait());
    })();
  });

  test('creation stacks (LEASH_TASK_STACKS=1) point at the caller', () => {
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import { background } from 'leashjs'; import { go, tasks } from 'leashjs/task';\ngo(background(), () => new Promise((r) => setTimeout(r, 5)));\nconsole.log(JSON.stringify(tasks()[0].stack));",
      ],
      { encoding: 'utf8', timeout: 15_000, env: { ...process.env, LEASH_TASK_STACKS: '1' } },
    );
    assert.equal(r.status, 0, r.stderr);
    const stack = JSON.parse(r.stdout) as string;
    assert.match(stack.split('\n')[0] ?? '', /eval.*:2:/, stack);
  });

  test('blocked operations release the process as soon as they complete', () => {
    const t = Date.now();
    const r = runScript(`
      import { withTimeout, background } from 'leashjs';
      import { Channel, Group, select, ticker } from 'leashjs/task';
      const [c] = withTimeout(background(), 20000);
      const ch = new Channel();
      setTimeout(() => ch.trySend(1), 20);
      console.log((await ch.recv(c)).value);
      setTimeout(() => ch.trySend(2), 20);
      console.log((await select(c, [{ recv: ch }])).index);
      const g = new Group(c);
      g.go(() => new Promise((r) => setTimeout(r, 20)));
      await g.wait();
      const [t] = withTimeout(background(), 120);
      let n = 0;
      for await (const _ of ticker(t, 30)) n++;
      console.log(n >= 2);`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '1\n0\ntrue');
    assert.ok(Date.now() - t < 8000, 'the process did not wait for the 20 s deadline');
  });
});

describe('task registry details', () => {
  test('Group tasks have the task that made the group (through its ctx) as parent', async () => {
    const parents: Array<number | undefined> = [];
    const outer = go(background(), async (ctx) => {
      const g = new Group(ctx);
      for (let i = 0; i < 3; i++)
        g.go(async (ctx) => {
          await turn();
          parents.push(info(taskOf(ctx)?.id ?? -1)?.parentId);
        });
      await g.wait();
    });
    await outer.done;
    assert.deepEqual(parents, [outer.id, outer.id, outer.id]);
  });

  test('a task returns to running after a cancelled blocking operation', async () => {
    let release!: () => void;
    const plain = new Promise<void>((r) => {
      release = r;
    });
    const h = go(background(), async () => {
      const [c1, k1] = withCancel(background());
      setTimeout(k1, 5);
      await new Channel<number>().recv(c1).catch(() => {});
      const [c2, k2] = withCancel(background());
      setTimeout(k2, 5);
      await select(c2, [{ recv: new Channel<number>() }]).catch(() => {});
      const [c3, k3] = withCancel(background());
      setTimeout(k3, 5);
      await sleep(c3, 60_000).catch(() => {});
      await plain;
    });
    await delay(40);
    assert.equal(info(h.id)?.state, 'running');
    release();
    await h.done;
  });

  test('the unobserved-failure report carries the task and the error', async () => {
    const published: Array<{ id?: number; error?: unknown }> = [];
    const onMessage = (m: unknown) => published.push(m as { id?: number; error?: unknown });
    const onWarning = () => {};
    process.on('warning', onWarning);
    diagnostics.subscribe('leash:task:unhandled', onMessage);
    try {
      const boom = new Error('payload');
      const h = go(background(), async () => {
        throw boom;
      });
      await until(() => published.length > 0, 'a report', 1000);
      assert.equal(published[0]?.error, boom);
      assert.equal(published[0]?.id, h.id);
    } finally {
      diagnostics.unsubscribe('leash:task:unhandled', onMessage);
      process.off('warning', onWarning);
    }
  });

  test('select with default picks fairly among several ready cases', async () => {
    const a = new Channel<number>(1);
    const b = new Channel<number>(1);
    let zero = 0;
    for (let i = 0; i < 1000; i++) {
      a.trySend(1);
      b.trySend(1);
      const r = await select(background(), [{ recv: a }, { recv: b }], { default: true });
      assert.notEqual(r.index, -1);
      if (r.index === 0) zero++;
      a.tryRecv();
      b.tryRecv();
    }
    assert.ok(zero > 400 && zero < 600, `case 0 chosen ${zero} of 1000`);
  });
});

describe('channel properties with close', () => {
  test('with close at a random point, every value whose send succeeded is received exactly once', async () => {
    type Kind = 'send' | 'recv' | 'close' | 'trySend' | 'tryRecv';
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3 }),
        fc.array(
          fc.record({
            kind: fc.constantFrom<Kind>('send', 'recv', 'close', 'trySend', 'tryRecv', 'send', 'recv'),
            waitTurns: fc.integer({ min: 0, max: 2 }),
            cancelAfter: fc.option(fc.integer({ min: 0, max: 3 })),
          }),
          { maxLength: 24 },
        ),
        async (cap, ops) => {
          const ch = new Channel<number>(cap);
          const sentOk: number[] = [];
          const received: number[] = [];
          const pending: Promise<unknown>[] = [];
          const cancels: Array<() => void> = [];
          let closed = false;
          for (const [i, op] of ops.entries()) {
            const [ctx, cancel] = cancelAfterTurns(op.cancelAfter);
            cancels.push(cancel);
            const fail = (e: unknown) => {
              if (isCanceled(e)) return;
              if (isClosedError(e)) return assert.ok(closed, 'ChannelClosedError only after close');
              throw e;
            };
            if (op.kind === 'send') pending.push(ch.send(ctx, i).then(() => sentOk.push(i), fail));
            else if (op.kind === 'recv')
              pending.push(
                ch.recv(ctx).then((r) => {
                  if (r.ok) received.push(r.value as number);
                  else assert.ok(closed, 'ok false only after close');
                }, fail),
              );
            else if (op.kind === 'trySend') {
              try {
                if (ch.trySend(i)) sentOk.push(i);
              } catch (e) {
                fail(e);
              }
            } else if (op.kind === 'tryRecv') {
              const r = ch.tryRecv();
              if (r?.ok) received.push(r.value as number);
            } else if (closed) assert.throws(() => ch.close(), isClosedError);
            else {
              closed = true;
              ch.close();
            }
            for (let t = 0; t < op.waitTurns; t++) await turn();
          }
          for (let t = 0; t < 5; t++) await turn();
          for (const c of cancels) c();
          await Promise.all(pending);
          if (!closed) ch.close();
          for (let r = ch.tryRecv(); r?.ok; r = ch.tryRecv()) received.push(r.value as number);
          assert.deepEqual(ch.tryRecv(), { value: undefined, ok: false });
          assert.deepEqual(
            [...received].sort((a, b) => a - b),
            [...sentOk].sort((a, b) => a - b),
          );
          assert.equal(ch.length, 0);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('many blocked receives on deadline contexts cost one Node timer', async () => {
    const count = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = count();
    const ch = new Channel<number>();
    const cancels: Array<() => void> = [];
    const waits: Promise<unknown>[] = [];
    for (let i = 0; i < 10_000; i++) {
      const [ctx, cancel] = withTimeout(background(), 60_000 + i);
      cancels.push(cancel);
      waits.push(ch.recv(ctx).catch(() => {}));
    }
    assert.ok(count() <= before + 1, `timers ${before} -> ${count()}`);
    for (const c of cancels) c();
    await Promise.all(waits);
    await turn();
    assert.equal(count(), before);
  });
});

describe('more task properties', () => {
  test('range stopped by its context at a random point loses and duplicates nothing', async () => {
    for (let trial = 0; trial < 150; trial++) {
      const ch = new Channel<number>(trial % 3);
      const [pctx, stopProducer] = withCancel(background());
      const sent: number[] = [];
      const producer = (async () => {
        for (let i = 0; i < 20; i++) {
          try {
            await ch.send(pctx, i);
          } catch {
            return;
          }
          sent.push(i);
        }
      })();
      const [cctx, stopConsumer] = withCancel(background());
      let k = trial % 7;
      const step = () => (k-- <= 0 ? stopConsumer() : setImmediate(step));
      step();
      const got: number[] = [];
      for await (const v of ch.range(cctx)) got.push(v);
      stopProducer();
      await producer;
      for (let r = ch.tryRecv(); r?.ok; r = ch.tryRecv()) got.push(r.value as number);
      assert.deepEqual(
        [...got].sort((a, b) => a - b),
        sent,
        `trial ${trial}`,
      );
    }
  });

  test("go runs fn in the caller's async context", async () => {
    const als = new AsyncLocalStorage<string>();
    const h = als.run('caller', () =>
      go(background(), async () => {
        await turn();
        return als.getStore();
      }),
    );
    assert.equal(await h.done, 'caller');
  });
});

describe('select interplay (Go select tests)', () => {
  test('tryRecv and recv match a blocked select send case; the other cases leave', async () => {
    const a = new Channel<number>();
    const b = new Channel<number>();
    const p = select(background(), [{ recv: a }, { send: b, value: 9 }]);
    await turn();
    assert.deepEqual(b.tryRecv(), { value: 9, ok: true });
    assert.equal((await p).index, 1);
    assert.equal(a.trySend(1), false);
    const c = new Channel<number>();
    const q = select(background(), [{ send: c, value: 3 }]);
    await turn();
    assert.deepEqual(await c.recv(background()), { value: 3, ok: true });
    assert.equal((await q).index, 0);
  });

  test('the same channel in two cases is taken once', async () => {
    const a = new Channel<number>();
    const p = select(background(), [{ recv: a }, { recv: a }]);
    await turn();
    assert.equal(a.trySend(5), true);
    const r = await p;
    assert.equal((r as { value?: number }).value, 5);
    assert.equal(a.trySend(6), false, 'no leftover registration');
  });

  test('two selects pair with each other across one unbuffered channel', async () => {
    const a = new Channel<number>();
    const p1 = select(background(), [{ send: a, value: 4 }]);
    const p2 = select(background(), [{ recv: a }]);
    assert.equal((await p1).index, 0);
    assert.deepEqual({ ...(await p2) }, { index: 0, value: 4, ok: true });
  });

  test('two tasks self-selecting on one channel make progress (buffered and unbuffered)', async () => {
    for (const cap of [0, 1]) {
      const c = new Channel<number>(cap);
      const [ctx, cancel] = withTimeout(background(), 5000);
      const work = async () => {
        for (let i = 0; i < 200; i++) await select(ctx, [{ send: c, value: i }, { recv: c }]);
      };
      await Promise.all([go(ctx, work).done, go(ctx, work).done]);
      cancel();
    }
  });
});

describe('acceptance findings (review of leashjs/task)', () => {
  test('Group with limit: a queued task has the group ctx task as parent and runs in the async context of g.go', async () => {
    const als = new AsyncLocalStorage<string>();
    const seen: Array<[string, number | undefined, string | undefined]> = [];
    const outer = go(background(), async (ctx) => {
      const g = new Group(ctx, { limit: 1 });
      als.run('caller', () => {
        for (const n of ['a', 'b', 'c'])
          g.go(async (ctx) => {
            const me = taskOf(ctx);
            seen.push([n, tasks().find((t) => t.id === me?.id)?.parentId, als.getStore()]);
            // After the first await: on Node 20 an enterWith in the synchronous prefix of any async
            // function (a task's fn runs synchronously inside go) also reaches its caller.
            await delay(1);
            als.enterWith(`inside-${n}`);
            await delay(5);
          });
      });
      await g.wait();
    });
    await outer.done;
    assert.deepEqual(seen, [
      ['a', outer.id, 'caller'],
      ['b', outer.id, 'caller'],
      ['c', outer.id, 'caller'],
    ]);
  });

  test('Group with limit: a queued task sees the AsyncLocalStorage values of its own g.go call', async () => {
    const als = new AsyncLocalStorage<string>();
    const g = new Group(background(), { limit: 1 });
    const seen: Array<string | undefined> = [];
    const task = (n: string) => async () => {
      seen.push(`${n}:${als.getStore()}`);
      await delay(5);
    };
    als.run('first', () => g.go(task('a')));
    als.run('second', () => {
      g.go(task('b'));
      g.go(task('c'));
    });
    await g.wait();
    assert.deepEqual(seen, ['a:first', 'b:second', 'c:second']);
  });

  test('Group with limit: a task queued at top level has no parent task', async () => {
    const g = new Group(background(), { limit: 1 });
    const parents: Array<number | undefined> = [];
    let first: number | undefined;
    const h = go(background(), async () => {
      g.go(async (ctx) => {
        first = taskOf(ctx)?.id;
        await delay(5);
      });
    });
    await h.done;
    g.go(async (ctx) => {
      const me = taskOf(ctx);
      parents.push(tasks().find((t) => t.id === me?.id)?.parentId);
    });
    await g.wait();
    assert.notEqual(first, undefined);
    assert.deepEqual(parents, [undefined], 'not the sibling that freed the slot');
  });

  test('channel and select operations validate ctx even when they complete at once', async () => {
    const b = new Channel<unknown>(1);
    await expectInvalid(
      () => (b.send as (...a: unknown[]) => Promise<void>)(5, background()),
      'send(value, ctx) swapped',
    );
    assert.equal(b.length, 0, 'nothing was delivered');
    b.trySend(1);
    await expectInvalid(() => b.recv(undefined as unknown as Context), 'recv(undefined) with a value ready');
    await expectInvalid(() => b.range({} as Context).next(), 'range({}) with a value ready');
    await expectInvalid(() => select({} as Context, [{ recv: b }]), 'select({}) with a ready case');
    await expectInvalid(
      () => select(null as unknown as Context, [], { default: true }),
      'select(null, default)',
    );
    assert.equal(b.length, 1, 'nothing was taken');
    const r = new Channel<unknown>();
    const waiting = r.recv(background());
    await expectInvalid(
      () => (r.send as (...a: unknown[]) => Promise<void>)('v', background()),
      'swapped send to a waiting receiver',
    );
    assert.equal(await isPending(waiting), true, 'the receiver did not get a Context');
    r.trySend(2);
    assert.deepEqual({ ...(await waiting) }, { value: 2, ok: true });
  });

  test('channel operations accept a foreign object with the Context shape', async () => {
    const bg = background();
    const foreign: Context = {
      deadline: undefined,
      err: undefined,
      signal: new AbortController().signal,
      done: new Promise<void>(() => {}),
      value: (k: unknown) => bg.value(k as never),
    } as unknown as Context;
    const b = new Channel<number>(1);
    await b.send(foreign, 1);
    assert.deepEqual({ ...(await b.recv(foreign)) }, { value: 1, ok: true });
    b.trySend(2);
    assert.equal((await select(foreign, [{ recv: b }])).index, 0);
  });

  test('go rejects a non-context', async () => {
    await expectInvalid(() => go({} as Context, async () => {}), 'go non-context');
    await expectInvalid(() => go('ctx' as unknown as Context, async () => {}), 'go string');
    assert.throws(
      () => go({} as Context, async () => {}),
      /^TypeError: go\(ctx, fn, opts\): ctx must be a Context/,
    );
  });

  test('ticker/after name themselves in their bad-input errors', async () => {
    assert.throws(
      () =>
        ticker({} as Context, 5)
          [Symbol.asyncIterator]()
          .next(),
      /ticker/,
    );
    await assert.rejects(async () => timeAfter({} as Context, 5), /after/);
    await expectInvalid(() => timeAfter({} as Context, 5), 'after({})');
    await expectInvalid(() => ticker({} as Context, 5), 'ticker({})');
  });

  test('signalContext rejects an unknown signal', async () => {
    await expectInvalid(() => signalContext(background(), ['NOPE' as NodeJS.Signals]), 'unknown signal');
    await expectInvalid(
      () => signalContext(background(), ['SIGINT', 'SIGTERN' as NodeJS.Signals]),
      'misspelt signal',
    );
    assert.equal(process.listenerCount('SIGINT'), 0, 'no listener left by the rejected call');
  });

  test('a task still blocked in recv shows chan receive after a concurrent sleep ends', async () => {
    const ch = new Channel<number>();
    const h = go(background(), async (c) => {
      await Promise.all([ch.recv(c), sleep(c, 10)]);
    });
    await delay(40);
    assert.equal(info(h.id)?.state, 'chan receive');
    ch.trySend(1);
    await h.done;
  });

  test('a task with several pending waits shows the most recent one still pending', async () => {
    const a = new Channel<number>();
    const b = new Channel<number>();
    const [ctx, cancel] = withCancel(background());
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const h = go(ctx, async (c) => {
      const ra = a.recv(c);
      const sb = b.send(c, 1);
      await gate;
      await Promise.all([ra, sb]);
    });
    await until(() => info(h.id)?.state === 'chan send', 'chan send');
    assert.deepEqual({ ...(await b.recv(ctx)) }, { value: 1, ok: true });
    assert.equal(info(h.id)?.state, 'chan receive', 'the send finished; the receive is still pending');
    a.trySend(2);
    await turn();
    assert.equal(info(h.id)?.state, 'running');
    release();
    await h.done;
    cancel();
  });

  test('after accepts durations over 2^31-1 ms (it waits in steps)', async () => {
    const [ctx, cancel] = withCancel(background());
    const q = timeAfter(ctx, 2 ** 31);
    const r = timeAfter(ctx, 3e9);
    assert.equal(await isPending(q), true);
    assert.equal(await isPending(r), true);
    cancel();
    await assert.rejects(q, (e) => e === ctx.err);
    await assert.rejects(r, (e) => e === ctx.err);
    await turn();
    assert.equal(timeouts(), 0, 'no timer left');
    await expectInvalid(() => timeAfter(background(), -1), 'after(-1)');
    await expectInvalid(() => timeAfter(background(), Number.NaN), 'after(NaN)');
    await assert.rejects(async () => timeAfter(background(), -1), /^TypeError: after\(ctx, ms\)/);
  });
});
