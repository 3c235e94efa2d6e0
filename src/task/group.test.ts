// Group, ported from golang.org/x/sync/errgroup's errgroup_test.go (TestZeroGroup,
// TestWithContext, TestGoLimit, TestTryGo, TestCancelCause) plus leash's rules: wait() settles only
// after every task, queued work is dropped when the context ends, go after wait throws.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, test } from 'node:test';
import { background, type Context, cause, sleep, withCancel } from '../context/index.js';
import { Channel } from './channel.js';
import { GroupDoneError } from './errors.js';
import { Group } from './group.js';
import { go, setTaskStacks, taskCount, tasks } from './registry.js';

const bg = background();
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('Group (errgroup)', () => {
  test('zero group: wait resolves; the first error of a sequence wins (TestZeroGroup)', async () => {
    await new Group(bg).wait();
    const err1 = new Error('errgroup_test: 1');
    const err2 = new Error('errgroup_test: 2');
    const cases: Error[][] = [[], [undefined as never], [err1], [err1, undefined as never], [err1, err2]];
    for (const errs of cases) {
      const g = new Group(bg);
      let first: Error | undefined;
      for (const e of errs) {
        // Sequential, as Go's test: each task finishes before the next starts.
        g.go(async () => {
          if (e) throw e;
        });
        await flush();
        first ??= e;
      }
      if (first) await assert.rejects(g.wait(), (got) => got === first);
      else await g.wait();
    }
  });

  test('the first error cancels g.ctx with that error as cause (TestWithContext, TestCancelCause)', async () => {
    const boom = new Error('boom');
    const g = new Group(bg);
    let sawCancel = false;
    g.go(async (ctx) => {
      await sleep(ctx, 60_000).catch(() => {
        sawCancel = true;
      });
    });
    g.go(async () => {
      throw boom;
    });
    g.go(async () => {
      throw new Error('second');
    });
    await assert.rejects(g.wait(), (e) => e === boom);
    assert.ok(sawCancel, 'sibling saw the cancellation');
    assert.ok(g.ctx.err, 'g.ctx is done');
    assert.equal(cause(g.ctx), boom);
  });

  test('wait() rejects only after every task has settled', async () => {
    const g = new Group(bg);
    let slowDone = false;
    g.go(async () => {
      throw new Error('fast');
    });
    g.go(async () => {
      // ignores cancellation for a while: wait must still wait for it
      await new Promise((r) => setTimeout(r, 30));
      slowDone = true;
    });
    await assert.rejects(g.wait(), /fast/);
    assert.equal(slowDone, true);
  });

  test('success cancels g.ctx after wait, unlinking it from the parent', async () => {
    const [parent, cancel] = withCancel(bg);
    const g = new Group(parent);
    g.go(async () => 1);
    await g.wait();
    assert.ok(g.ctx.err, 'g.ctx is cancelled once wait settles, as Go does');
    assert.equal(parent.err, undefined);
    cancel();
  });

  test('limit bounds concurrency (TestGoLimit)', async () => {
    const limit = 3;
    const g = new Group(bg, { limit });
    let active = 0;
    let peak = 0;
    for (let i = 0; i < 50; i++) {
      g.go(async () => {
        active++;
        peak = Math.max(peak, active);
        await flush();
        active--;
      });
    }
    assert.equal(taskCount(), limit, 'only limit tasks exist; the rest are queued functions');
    await g.wait();
    assert.equal(peak, limit);
    assert.equal(taskCount(), 0);
  });

  test('tryGo starts only under the limit (TestTryGo)', async () => {
    const g = new Group(bg, { limit: 1 });
    const gate = new Channel<void>();
    assert.equal(
      g.tryGo(async (ctx) => {
        await gate.recv(ctx);
      }),
      true,
    );
    assert.equal(
      g.tryGo(async () => {}),
      false,
    );
    gate.close();
    await flush();
    assert.equal(
      g.tryGo(async () => {}),
      true,
    );
    await g.wait();
  });

  test('queued functions are dropped when the parent ends; wait rejects with g.ctx.err', async () => {
    const [parent, cancel] = withCancel(bg);
    const g = new Group(parent, { limit: 1 });
    let ran = 0;
    g.go(async (ctx) => {
      ran++;
      await sleep(ctx, 60_000).catch(() => {});
    });
    for (let i = 0; i < 10; i++)
      g.go(async () => {
        ran++;
      });
    cancel();
    await assert.rejects(g.wait(), (e) => e === g.ctx.err);
    assert.equal(ran, 1);
    assert.equal(taskCount(), 0);
  });

  test('queued functions never start once a failure has cancelled g.ctx', async () => {
    const g = new Group(bg, { limit: 1 });
    let ran = 0;
    g.go(async () => {
      throw new Error('first');
    });
    for (let i = 0; i < 5; i++)
      g.go(async () => {
        ran++;
      });
    await assert.rejects(g.wait(), /first/);
    assert.equal(ran, 0);
    assert.equal(taskCount(), 0);
  });

  test('go after wait has settled throws GroupDoneError', async () => {
    const g = new Group(bg);
    g.go(async () => {});
    await g.wait();
    assert.throws(
      () => g.go(async () => {}),
      (e: unknown) => e instanceof GroupDoneError && e.code === 'LEASH_ERR_GROUP_DONE',
    );
    assert.throws(() => g.tryGo(async () => {}), GroupDoneError);
  });

  test('go while wait is pending is allowed', async () => {
    const g = new Group(bg);
    let second = false;
    g.go(async () => {
      await flush();
      g.go(async () => {
        second = true;
      });
    });
    await g.wait();
    assert.equal(second, true);
  });

  test('await using cancels and waits; rethrows a failure nobody waited for', async () => {
    let stopped = false;
    {
      await using g = new Group(bg);
      g.go(async (ctx: Context) => {
        await sleep(ctx, 60_000).catch(() => {});
        stopped = true;
      });
    }
    assert.equal(stopped, true);
    assert.equal(taskCount(), 0);

    const boom = new Error('unwaited');
    await assert.rejects(async () => {
      await using g = new Group(bg);
      g.go(async () => {
        throw boom;
      });
      await flush();
    }, boom);
  });

  test('tasks are registered under their creator, the waiter shows group wait, failures are not "unhandled"', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (m: unknown) => unhandled.push(m);
    subscribe('leash:task:unhandled', onUnhandled);
    try {
      const [ctx, cancel] = withCancel(bg);
      const gate = new Channel<void>();
      const outer = go(
        ctx,
        async (ctx) => {
          const g = new Group(ctx);
          g.go((ctx) => gate.recv(ctx), { name: 'member' });
          g.go(async () => {
            await gate.recv(ctx);
            throw new Error('member failed');
          });
          await g.wait();
        },
        { name: 'outer' },
      );
      await flush();
      const list = tasks();
      const member = list.find((t) => t.name === 'member');
      assert.equal(member?.parentId, outer.id);
      assert.equal(member?.state, 'chan receive');
      assert.equal(list.find((t) => t.id === outer.id)?.state, 'group wait');
      gate.close();
      await assert.rejects(outer.done, /member failed/);
      await flush();
      await flush();
      assert.deepEqual(unhandled, []);
      cancel();
    } finally {
      unsubscribe('leash:task:unhandled', onUnhandled);
    }
  });

  test('with stacks on, a queued task keeps the stack of its g.go call', async () => {
    setTaskStacks(true);
    try {
      const g = new Group(bg, { limit: 1 });
      const gate = new Channel<void>();
      g.go((ctx) => gate.recv(ctx), { name: 'first' });
      g.go((ctx) => gate.recv(ctx), { name: 'queued' }); // starts later, from taskSettled
      gate.trySend(undefined);
      await flush();
      const queued = tasks().find((t) => t.name === 'queued');
      assert.match(queued?.stack?.split('\n')[0] ?? '', /group\.test\.ts/);
      gate.close();
      await g.wait();
    } finally {
      setTaskStacks(false);
    }
  });

  test('bad input throws TypeError LEASH_ERR_INVALID_ARG', () => {
    const isInvalid = (e: unknown) =>
      e instanceof TypeError && (e as { code?: string }).code === 'LEASH_ERR_INVALID_ARG';
    assert.throws(() => new Group(bg, { limit: 0 }), isInvalid);
    assert.throws(() => new Group(bg, { limit: 1.5 }), isInvalid);
    assert.throws(() => new Group(bg).go('x' as never), isInvalid);
  });
});

describe('Group: bad input (issues 8, 10)', () => {
  const invalid = (message: RegExp) => ({ code: 'LEASH_ERR_INVALID_ARG', message });

  test('a number where options belong is rejected, not read as "no limit"', () => {
    assert.throws(
      () => new Group(bg, 4 as never),
      invalid(/^new Group\(ctx, opts\): options must be an object.*the number 4/),
    );
  });

  test('an unknown option key is rejected with a suggestion', () => {
    assert.throws(() => new Group(bg, { limt: 2 } as never), invalid(/did you mean "limit"/));
    assert.throws(() => new Group(bg, { concurrency: 2 } as never), invalid(/unknown option "concurrency"/));
  });

  test('a missing ctx names new Group(ctx, opts), not an internal helper', () => {
    assert.throws(
      () => new (Group as unknown as new () => Group)(),
      invalid(/^new Group\(ctx, opts\): .*got undefined/),
    );
    assert.throws(() => new Group(new AbortController().signal as never), invalid(/fromSignal/));
  });

  test('a bad limit, a null-prototype one included, is LEASH_ERR_INVALID_ARG', () => {
    for (const limit of [0, -1, 1.5, Number.NaN, '2', Object.create(null), { valueOf: () => 2 }]) {
      assert.throws(() => new Group(bg, { limit: limit as number }), invalid(/opts\.limit must be/));
    }
    assert.doesNotThrow(() => new Group(bg, { limit: Number.POSITIVE_INFINITY }));
    assert.doesNotThrow(() => new Group(bg, { limit: undefined }));
  });

  test('a null limit is refused like any non-number, not read as "no limit"', () => {
    assert.throws(() => new Group(bg, { limit: null } as never), {
      name: 'TypeError',
      code: 'LEASH_ERR_INVALID_ARG',
      message: 'new Group(ctx, opts): opts.limit must be an integer >= 1 (Infinity allowed), got null',
    });
  });

  test('go and tryGo check fn and their options', () => {
    const g = new Group(bg);
    assert.throws(
      () => g.go(42 as never),
      invalid(/^Group\.go\(fn, opts\): fn must be a function, got the number 42/),
    );
    assert.throws(() => g.tryGo(async () => {}, 'name' as never), invalid(/options must be an object/));
    assert.throws(() => g.go(async () => {}, { name: 7 } as never), invalid(/opts\.name must be a string/));
    assert.throws(() => g.go(async () => {}, { nme: 'x' } as never), invalid(/did you mean "name"/));
  });
});
