import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, test } from 'node:test';
import { quietWarnings } from '../../test/support/quiet-warnings.js';
import { abortable, background, type Context, sleep, withCancel } from '../context/index.js';
import { Channel } from './channel.js';
import {
  go,
  setTaskStacks,
  type TaskEndMessage,
  type TaskHandle,
  type TaskInfo,
  type TaskStartMessage,
  type TaskState,
  type TaskUnhandledMessage,
  taskBlockedLists,
  taskCount,
  taskOf,
  taskStacksEnabled,
  tasks,
  withTaskState,
} from './registry.js';
import { assertInvalidArg as invalid } from './test-support/invalid-arg.js';

// Several tests make a task fail with nobody reading done, on purpose; they observe the warning.
quietWarnings('LeashTaskWarning');

const bg = background();
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const find = (id: number): TaskInfo | undefined => tasks().find((t) => t.id === id);

// Collects what is published on a diagnostics channel during `fn`.
async function collect(name: string, fn: () => Promise<void>): Promise<unknown[]> {
  const got: unknown[] = [];
  const onMessage = (m: unknown) => got.push(m);
  subscribe(name, onMessage);
  try {
    await fn();
  } finally {
    unsubscribe(name, onMessage);
  }
  return got;
}

// Collects process warnings with `code` during `fn`.
async function warnings(code: string, fn: () => Promise<void>): Promise<Error[]> {
  const got: Error[] = [];
  const onWarning = (w: Error) => {
    if ((w as { code?: string }).code === code) got.push(w);
  };
  process.on('warning', onWarning);
  try {
    await fn();
  } finally {
    process.removeListener('warning', onWarning);
  }
  return got;
}

describe('go and the task registry', () => {
  test('a task is registered until it settles; done resolves with its value', async () => {
    const before = taskCount();
    const gate = new Channel<void>();
    const h = go(bg, async (ctx) => {
      await gate.recv(ctx);
      return 42;
    });
    assert.equal(typeof h.id, 'number');
    assert.equal(taskCount(), before + 1);
    const info = find(h.id);
    assert.ok(info);
    assert.equal(info.state, 'chan receive');
    assert.ok(Math.abs(info.startedAt - Date.now()) < 5_000);
    assert.equal(info.parentId, undefined);
    assert.equal(info.stack, undefined, 'no stack unless enabled');
    gate.close();
    assert.equal(await h.done, 42);
    assert.equal(h.state, 'done');
    assert.equal(taskCount(), before);
    assert.equal(find(h.id), undefined);
  });

  test('names: given, else the function name, else "task"', async () => {
    const named = go(bg, async () => {}, { name: 'worker' });
    async function fetchUser() {}
    const fromFn = go(bg, fetchUser);
    const anon = go(bg, (async () => {}) as never);
    assert.equal(named.name, 'worker');
    assert.equal(fromFn.name, 'fetchUser');
    assert.equal(anon.name, 'task');
    await Promise.all([named.done, fromFn.done, anon.done]);
  });

  test('the parent is the task carried by ctx; taskOf(ctx) reads it back', async () => {
    const gate = new Channel<void>();
    let childId = 0;
    let detachedId = 0;
    const parent: TaskHandle<void> = go(bg, async (ctx) => {
      await flush();
      const [derived, cancel] = withCancel(ctx); // a context derived from the task's carries it too
      const child = go(derived, (ctx) => gate.recv(ctx));
      childId = child.id;
      assert.equal(taskOf(ctx)?.id, parent.id);
      assert.equal(taskOf(derived)?.id, parent.id);
      // A context from outside the task carries no task: the parent rides on ctx, not on the call stack.
      const detached = go(bg, (ctx) => gate.recv(ctx));
      detachedId = detached.id;
      await Promise.all([child.done, detached.done]);
      cancel();
    });
    await flush();
    assert.equal(find(childId)?.parentId, parent.id);
    assert.equal(find(detachedId)?.parentId, undefined);
    assert.equal(taskOf(bg), undefined, 'outside any task');
    gate.close();
    await parent.done;
  });

  test('a task that throws synchronously is a failed task', async () => {
    const h = go(bg, (() => {
      throw new Error('sync');
    }) as never);
    await assert.rejects(h.done, /sync/);
    assert.equal(h.state, 'failed');
  });

  test('done read after the task settled still settles', async () => {
    const ok = go(bg, async () => 'v');
    const bad = go(bg, async () => {
      throw new Error('late');
    });
    await flush();
    assert.equal(await ok.done, 'v');
    await assert.rejects(bad.done, /late/);
  });

  test('creation stacks only when enabled; they point at the caller', async () => {
    assert.equal(taskStacksEnabled(), process.env.LEASH_TASK_STACKS === '1');
    setTaskStacks(true);
    try {
      const gate = new Channel<void>();
      const h = go(bg, (ctx) => gate.recv(ctx));
      const stack = find(h.id)?.stack;
      assert.ok(stack, 'stack captured');
      assert.match(stack.split('\n')[0]!, /registry\.test\.ts/, 'first frame is the user code calling go');
      gate.close();
      await h.done;
    } finally {
      setTaskStacks(false);
    }
    const h2 = go(bg, async () => {});
    assert.equal(find(h2.id)?.stack, undefined);
    await h2.done;
  });

  test('lifecycle events on leash:task:start and leash:task:end', async () => {
    let id = 0;
    const starts = await collect('leash:task:start', async () => {
      const ends = await collect('leash:task:end', async () => {
        const h = go(bg, async () => 1, { name: 'observed' });
        id = h.id;
        await h.done;
        const bad = go(bg, async () => {
          throw new Error('x');
        });
        await bad.done.catch(() => {});
      });
      assert.equal(ends.length, 2);
      assert.deepEqual(
        ends.map((m) => (m as TaskEndMessage).state),
        ['done', 'failed'],
      );
      assert.ok(!('error' in (ends[0] as object)), 'no error key on success');
      assert.match(String((ends[1] as TaskEndMessage).error), /x/);
      for (const m of ends) {
        assert.ok(Object.isFrozen(m));
        assert.equal(typeof (m as TaskEndMessage).endedAt, 'number');
      }
    });
    const start = starts[0] as TaskStartMessage;
    assert.ok(Object.isFrozen(start));
    assert.deepEqual(Object.keys(start).sort(), ['id', 'name', 'parentId', 'startedAt']);
    assert.equal(start.id, id);
    assert.equal(start.name, 'observed');
  });

  test('a failure nobody observes is reported on leash:task:unhandled and as a warning', async () => {
    const boom = new Error('nobody listened');
    let id = 0;
    const warned = await warnings('LEASH_WARN_TASK_UNHANDLED', async () => {
      const reported = await collect('leash:task:unhandled', async () => {
        id = go(
          bg,
          async () => {
            throw boom;
          },
          { name: 'lonely' },
        ).id;
        await flush();
        await flush();
      });
      assert.equal(reported.length, 1);
      const m = reported[0] as TaskUnhandledMessage;
      assert.ok(Object.isFrozen(m));
      assert.equal(m.id, id);
      assert.equal(m.name, 'lonely');
      assert.equal(m.error, boom);
    });
    assert.equal(warned.length, 1);
    assert.match(warned[0]!.message, /lonely/);
    assert.match(warned[0]!.message, /nobody listened/);
  });

  test('reading done in the same turn (even after the failure) counts as observing it', async () => {
    const warned = await warnings('LEASH_WARN_TASK_UNHANDLED', async () => {
      const reported = await collect('leash:task:unhandled', async () => {
        const h = go(bg, async () => {
          throw new Error('observed');
        });
        await Promise.resolve();
        await Promise.resolve();
        await assert.rejects(h.done, /observed/);
        await flush();
        await flush();
      });
      assert.deepEqual(reported, []);
    });
    assert.deepEqual(warned, []);
  });

  test('the core sleep and abortable show as sleeping and io', async () => {
    const [ctx, cancel] = withCancel(bg);
    const sleeper = go(ctx, (ctx) => sleep(ctx, 60_000), { name: 'sleeper' });
    const io = go(ctx, (ctx) => abortable(ctx, new Promise(() => {})), { name: 'io' });
    assert.equal(find(sleeper.id)?.state, 'sleeping');
    assert.equal(find(io.id)?.state, 'io');
    cancel();
    await assert.rejects(sleeper.done);
    await assert.rejects(io.done);
    const quick = go(bg, async (ctx) => {
      await sleep(ctx, 1);
      return taskOf(ctx)?.state;
    });
    assert.equal(await quick.done, 'running', 'back to running after the sleep');
  });

  test('withTaskState marks the current task until the promise settles', async () => {
    let release!: () => void;
    const h = go(bg, async (ctx) => {
      await withTaskState(
        ctx,
        'io',
        new Promise<void>((r) => {
          release = r;
        }),
      );
      return taskOf(ctx)?.state;
    });
    assert.equal(find(h.id)?.state, 'io');
    release();
    assert.equal(await h.done, 'running');
    const outside = Promise.resolve(1);
    assert.equal(withTaskState(bg, 'io', outside), outside, 'outside a task it is the promise itself');
  });

  test('concurrent waits in one task: the state is the most recent one still pending', async () => {
    const gates: Array<() => void> = [];
    const gate = () =>
      new Promise<void>((r) => {
        gates.push(r);
      });
    const ch = new Channel<number>();
    let step!: () => void;
    const stepped = new Promise<void>((r) => {
      step = r;
    });
    const h = go(bg, async (ctx) => {
      const io = withTaskState(ctx, 'io', gate());
      const recv = ch.recv(ctx);
      const wait = withTaskState(ctx, 'group wait', gate());
      step();
      await Promise.all([io, recv, wait]);
    });
    await stepped;
    assert.equal(find(h.id)?.state, 'group wait');
    gates[1]!();
    await flush();
    assert.equal(find(h.id)?.state, 'chan receive', 'the newest pending wait');
    gates[0]!();
    await flush();
    assert.equal(find(h.id)?.state, 'chan receive', 'an older wait ending changes nothing');
    ch.trySend(1);
    await h.done;
    assert.equal(h.state, 'done');
  });

  test('channel operations on contexts derived inside a task count as its waits, newest first', async () => {
    // A blocked channel operation writes nothing into its task: the state is found through the
    // contexts' lists of blocked operations when read. Derived contexts belong to the same task.
    const a = new Channel<number>();
    const b = new Channel<number>();
    const c = new Channel<number>();
    let step!: () => void;
    const stepped = new Promise<void>((r) => {
      step = r;
    });
    const h = go(bg, async (ctx) => {
      const [child, cancelChild] = withCancel(ctx);
      const [grandchild, cancelGrandchild] = withCancel(child);
      const sent = a.send(child, 1); // oldest
      const got = b.recv(child); // same context, newer
      const io = withTaskState(grandchild, 'io', c.recv(grandchild)); // newest
      step();
      await Promise.all([sent, got, io]);
      cancelGrandchild();
      cancelChild();
    });
    await stepped;
    const listed = () => tasks().find((t) => t.id === h.id)?.state;
    assert.equal(h.state, 'io');
    assert.equal(listed(), 'io', 'tasks() agrees with the handle');
    c.trySend(0);
    await flush();
    assert.equal(h.state, 'chan receive', 'the newer of the two operations on the same context');
    assert.equal(listed(), 'chan receive');
    b.trySend(5);
    await flush();
    assert.equal(h.state, 'chan send');
    assert.equal(listed(), 'chan send');
    assert.equal((await a.recv(bg)).value, 1);
    await h.done;
    assert.equal(h.state, 'done');
    assert.equal(listed(), undefined, 'an ended task is not listed');
  });

  test("an operation ended by its context's cancel leaves its task's state", async () => {
    const ch = new Channel<number>();
    let cancelChild!: () => void;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const h = go(bg, async (ctx) => {
      const [child, cancel] = withCancel(ctx);
      cancelChild = cancel;
      await ch.recv(child).catch(() => {});
      await gate; // busy outside leash: running
    });
    await flush();
    assert.equal(h.state, 'chan receive');
    cancelChild();
    await flush();
    assert.equal(h.state, 'running');
    assert.equal(tasks().find((t) => t.id === h.id)?.state, 'running');
    release();
    await h.done;
  });

  test('the lists that task states read are dropped once their tasks stop blocking', async () => {
    // Each task's context gets a list when its first operation blocks; the list must go when the
    // registration is swept (operations done) or fired (context cancelled), or it would keep
    // every task that ever blocked reachable.
    const before = taskBlockedLists.size;
    const ch = new Channel<number>();
    const other = new Channel<number>();
    const done = Array.from({ length: 200 }, () => go(bg, async (ctx) => (await ch.recv(ctx)).value)).map(
      (h) => h.done,
    );
    const [parent, cancel] = withCancel(bg);
    const cancelled = Array.from({ length: 200 }, () =>
      go(parent, async (ctx) => {
        await other.send(ctx, -1).catch(() => {}); // nobody receives: blocked until the cancel
      }),
    ).map((h) => h.done);
    await flush();
    assert.equal(taskBlockedLists.size - before, 400, 'one list per blocked task context');
    cancel();
    await Promise.all(cancelled);
    for (let i = 0; i < 200; i++) ch.trySend(i);
    await Promise.all(done);
    await flush();
    await flush();
    assert.equal(taskBlockedLists.size, before);
  });

  test('bad input throws TypeError LEASH_ERR_INVALID_ARG', () => {
    const isInvalid = (e: unknown) =>
      e instanceof TypeError && (e as { code?: string }).code === 'LEASH_ERR_INVALID_ARG';
    assert.throws(() => go(bg, 'nope' as never), isInvalid);
    assert.throws(() => go(null as never, async () => {}), isInvalid);
    assert.throws(() => go({} as never, async () => {}), isInvalid);
  });
});

describe('registry: diagnostics payloads cannot change behaviour (issue 9)', () => {
  test('a subscriber that reads and writes every field changes nothing: the unobserved failure is still warned', async () => {
    const touch = (msg: unknown) => {
      const m = msg as Record<string, unknown>;
      for (const key of [...Object.keys(m), 'done', 'task', 'state', 'observed']) {
        void m[key];
        try {
          m[key] = 'changed';
        } catch {}
      }
    };
    const names = ['leash:task:start', 'leash:task:end', 'leash:task:unhandled'];
    for (const n of names) subscribe(n, touch);
    try {
      const boom = new Error('still reported');
      let id = 0;
      const warned = await warnings('LEASH_WARN_TASK_UNHANDLED', async () => {
        const reported = await collect('leash:task:unhandled', async () => {
          id = go(bg, async () => {
            throw boom;
          }).id;
          await flush();
          await flush();
        });
        assert.equal(reported.length, 1);
        assert.equal((reported[0] as TaskUnhandledMessage).id, id, 'the payload was not changed');
        assert.equal((reported[0] as TaskUnhandledMessage).error, boom);
      });
      assert.equal(warned.length, 1);
      assert.match(warned[0]!.message, /still reported/);
    } finally {
      for (const n of names) unsubscribe(n, touch);
    }
  });
});

describe('registry: bad input (LEASH_ERR_INVALID_ARG)', () => {
  test('go checks ctx first, then fn, then options (a string, an unknown key)', () => {
    const before = taskCount();
    invalid(
      () => (go as (...a: unknown[]) => unknown)(async () => 1),
      /^go\(ctx, fn, opts\): ctx must be a Context.*got a function/,
    );
    invalid(
      () => go(bg, 5 as unknown as () => Promise<void>),
      /^go\(ctx, fn, opts\): fn must be a function, got the number 5/,
    );
    invalid(
      () => go(bg, async () => {}, 'worker' as unknown as { name: string }),
      /options must be an object.*got the string "worker"/,
    );
    invalid(
      () => go(bg, async () => {}, { names: 'worker' } as unknown as { name: string }),
      /unknown option "names"; did you mean "name"\?/,
    );
    invalid(
      () => go(bg, async () => {}, { name: 7 as unknown as string }),
      /opts\.name must be a string, got the number 7/,
    );
    assert.equal(taskCount(), before, 'nothing was started');
  });

  test('withTaskState and setTaskStacks reject what they cannot use', () => {
    invalid(
      () => (withTaskState as (...a: unknown[]) => unknown)('io', 42),
      /ctx must be a Context.*the string "io"/,
    );
    invalid(
      () => withTaskState(bg, 'io', 42 as unknown as Promise<void>),
      /promise must be a promise, got the number 42/,
    );
    invalid(
      () => withTaskState(bg, 'sleep' as TaskState, Promise.resolve()),
      /state must be one of.*did you mean "sleeping"/,
    );
    invalid(() => withTaskState(bg, 'done', Promise.resolve()), /state must be one of/);
    invalid(
      () => setTaskStacks('yes' as unknown as boolean),
      /setTaskStacks\(enabled\): enabled must be true or false, got the string "yes"/,
    );
    assert.equal(taskStacksEnabled(), false);
    invalid(() => taskOf(undefined as unknown as Context), /^taskOf\(ctx\): ctx must be a Context/);
  });
});
