// Ports of Go's context tests (context_test.go, x_test.go) for cancellation: parent finishes
// child, child finishes first, cancel removes the child from its parent, layered cancels, custom
// (foreign) parents, and re-entrancy.
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, test } from 'node:test';
import {
  afterFunc,
  background,
  CanceledError,
  type Context,
  cause,
  createKey,
  isCanceled,
  todo,
  withCancel,
  withCancelCause,
  withTimeout,
  withValue,
} from './index.js';
import { wrapping } from './test-support/foreign.js';
import { childCount } from './test-support/inspect.js';

function isDone(ctx: Context): boolean {
  return ctx.err !== undefined;
}

describe('background and todo', () => {
  test('are never done, have no deadline and no values', async () => {
    for (const ctx of [background(), todo()]) {
      assert.equal(ctx.err, undefined);
      assert.equal(ctx.deadline, undefined);
      assert.equal(ctx.signal.aborted, false);
      assert.equal(ctx.value(createKey('k')), undefined);
      const raced = await Promise.race([
        ctx.done.then(() => 'done'),
        new Promise((r) => setTimeout(r, 10, 'timeout')),
      ]);
      assert.equal(raced, 'timeout');
    }
  });
  test('are shared, distinct instances with Go-like names', () => {
    assert.equal(background(), background());
    assert.equal(todo(), todo());
    assert.notEqual(background(), todo());
    assert.equal(String(background()), 'context.Background');
    assert.equal(String(todo()), 'context.TODO');
  });
});

describe('withCancel', () => {
  test('TestWithCancel: cancelling the parent cancels every descendant before cancel() returns', async () => {
    const [c1, cancel] = withCancel(background());
    assert.equal(String(c1), 'context.Background.WithCancel');
    const o = withValue(c1, createKey('x'), 1);
    const [c2] = withCancel(o);
    const contexts = [c1, o, c2];
    for (const c of contexts) assert.equal(c.err, undefined);
    const signals = contexts.map((c) => c.signal);
    const dones = contexts.map((c) => c.done);
    cancel();
    for (const c of contexts) {
      assert.ok(c.err instanceof CanceledError, `${c} should be canceled`);
      assert.equal(c.err.name, 'AbortError');
      assert.equal(c.err.message, 'context canceled');
    }
    for (const s of signals) assert.equal(s.aborted, true);
    await Promise.all(dones);
  });

  test('TestParentFinishesChild: children are linked while live and all cancelled through the parent', () => {
    const [parent, cancelParent] = withCancel(background());
    const [cancelChild] = withCancel(parent);
    const [timerChild] = withTimeout(parent, 60_000);
    const valueChild = withValue(parent, createKey('k'), 'v');
    const [grandchild] = withCancel(valueChild);
    // The value child holds no link of its own: its child links to the nearest cancel context.
    assert.equal(childCount(parent), 3);
    cancelParent();
    for (const c of [parent, cancelChild, timerChild, valueChild, grandchild]) {
      assert.ok(isCanceled(c.err), `${c} should be canceled`);
      assert.equal(cause(c), parent.err);
    }
    assert.equal(childCount(parent), 0);
  });

  test('TestChildFinishesFirst: a child cancelled first is unlinked and keeps its own error', () => {
    for (const [parent, cancelParent] of [withCancel(background()), [background(), () => {}] as const]) {
      const [child, cancelChild] = withCancel(parent);
      if (parent !== background()) assert.equal(childCount(parent), 1);
      cancelChild();
      assert.ok(isCanceled(child.err));
      assert.equal(parent.err, undefined);
      if (parent !== background()) assert.equal(childCount(parent), 0);
      cancelParent();
      assert.ok(isCanceled(child.err));
    }
  });

  test('TestCancelRemoves: cancel removes the child from its parent, for every kind of child', () => {
    const [parent, cancel] = withCancel(background());
    const [, c1] = withCancel(parent);
    assert.equal(childCount(parent), 1);
    c1();
    assert.equal(childCount(parent), 0);
    const [, c2] = withTimeout(parent, 60_000);
    assert.equal(childCount(parent), 1);
    c2();
    assert.equal(childCount(parent), 0);
    cancel();
  });

  test('TestWithCancelCanceledParent: a child of a done parent is done at once with its err and cause', () => {
    const [parent, cancel] = withCancelCause(background());
    const why = new Error('why');
    cancel(why);
    const [child] = withCancel(parent);
    assert.equal(child.err, parent.err);
    assert.equal(cause(child), why);
    assert.equal(child.signal.aborted, true);
    assert.equal(child.signal.reason, why);
    assert.equal(childCount(parent), 0);
  });

  test('cancel is idempotent and Disposable; the first cancellation wins', () => {
    const [ctx, cancel] = withCancelCause(background());
    const first = new Error('first');
    cancel(first);
    cancel(new Error('second'));
    cancel();
    assert.equal(cause(ctx), first);
    let disposed: Context | undefined;
    {
      const [inner, cancelInner] = withCancel(background());
      using _ = cancelInner;
      disposed = inner;
      assert.equal(inner.err, undefined);
    }
    assert.ok(isCanceled(disposed.err));
  });

  test('TestSimultaneousCancels / TestInterlockedCancels: a tree cancelled from many places settles consistently', async () => {
    const [root, cancelRoot] = withCancel(background());
    const nodes: [Context, () => void][] = [];
    for (let i = 0; i < 100; i++) {
      const parent = i === 0 ? root : (nodes[Math.floor(i / 2)] as [Context, () => void])[0];
      nodes.push(withCancel(parent));
    }
    // Interlocked: cancelling one context from another's abort listener.
    const [a, cancelA] = withCancel(background());
    const [b, cancelB] = withCancel(background());
    a.signal.addEventListener('abort', () => cancelB());
    cancelA();
    assert.ok(isDone(b));
    // Cancel some leaves first, then the root.
    for (let i = 99; i > 50; i -= 3) (nodes[i] as [Context, () => void])[1]();
    cancelRoot();
    for (const [c] of nodes) assert.ok(isDone(c));
    await Promise.all(nodes.map(([c]) => c.done));
  });

  test('TestLayersCancel: cancelling an inner layer leaves outer layers live', () => {
    const k = createKey<number>('layer');
    let ctx: Context = background();
    const cancels: (() => void)[] = [];
    const layers: Context[] = [];
    for (let i = 0; i < 20; i++) {
      if (i % 2 === 0) {
        const [c, cancel] = withCancel(ctx);
        ctx = c;
        cancels.push(cancel);
      } else ctx = withValue(ctx, k, i);
      layers.push(ctx);
    }
    assert.equal(ctx.value(k), 19);
    (cancels[5] as () => void)();
    for (let i = 0; i < layers.length; i++) {
      assert.equal(isDone(layers[i] as Context), i >= 10, `layer ${i}`);
    }
    (cancels[0] as () => void)();
    for (const l of layers) assert.ok(isDone(l));
  });

  test('every descendant is done before any abort listener runs; parents abort first; done resolves later', async () => {
    const [parent, cancel] = withCancel(background());
    const [child] = withCancel(parent);
    const [grandchild] = withCancel(child);
    const order: string[] = [];
    parent.signal.addEventListener('abort', () =>
      order.push(`parent abort, grandchild err set: ${grandchild.err !== undefined}`),
    );
    child.signal.addEventListener('abort', () => order.push('child abort'));
    grandchild.signal.addEventListener('abort', () => order.push('grandchild abort'));
    void grandchild.done.then(() => order.push('grandchild done'));
    cancel();
    order.push('cancel returned');
    await grandchild.done;
    assert.deepEqual(order, [
      'parent abort, grandchild err set: true',
      'child abort',
      'grandchild abort',
      'cancel returned',
      'grandchild done',
    ]);
  });

  test('in a wide tree, what was watched is told level by level; what was not reads as done from the first listener', async () => {
    // Only the contexts whose signal or done was read, and afterFunc callbacks, are told after the
    // tree is marked; the others must still look done to a listener that reaches them first.
    const [root, cancel] = withCancelCause(background());
    const why = new Error('shutdown');
    const order: string[] = [];
    const level1 = Array.from({ length: 4 }, () => withCancel(root)[0]);
    const level2 = level1.flatMap((p) => Array.from({ length: 3 }, () => withTimeout(p, 60_000)[0]));
    const level3 = level2.map((p) => withCancel(p)[0]);
    level1[1]!.signal.addEventListener('abort', () => order.push('1'));
    level2[0]!.signal.addEventListener('abort', () => order.push('2'));
    level2[7]!.signal.addEventListener('abort', () => order.push('2'));
    afterFunc(level2[4]!, () => order.push('after 3')); // a watcher is one level below its context
    afterFunc(level1[3]!, () => order.push('after 2'));
    level3[11]!.signal.addEventListener('abort', () => order.push('3'));
    const watchedDone = level3[5]!.done;
    let seen: { aborted: boolean; reason: unknown; err: boolean; sameErr: boolean } | undefined;
    let unwatchedDone: Promise<void> | undefined;
    root.signal.addEventListener('abort', () => {
      order.push('0');
      const leaf = level3[2]!; // nothing read it yet
      const s = leaf.signal;
      seen = {
        aborted: s.aborted,
        reason: s.reason,
        err: isCanceled(leaf.err),
        sameErr: leaf.err === root.err,
      };
      unwatchedDone = level2[9]!.done;
    });
    cancel(why);
    assert.deepEqual(order, ['0', '1', '2', '2', '3']);
    await new Promise<void>((resolve) => setImmediate(resolve)); // afterFunc runs in microtasks
    assert.deepEqual(order, ['0', '1', '2', '2', '3', 'after 2', 'after 3']);
    assert.deepEqual(seen, { aborted: true, reason: why, err: true, sameErr: true });
    for (const c of [...level1, ...level2, ...level3]) {
      assert.equal(c.err, root.err);
      assert.equal(cause(c), why);
      assert.equal(c.signal.reason, why);
    }
    for (const c of [root, ...level1, ...level2]) assert.equal(childCount(c), 0);
    await Promise.all([watchedDone, unwatchedDone]);
  });

  test('a chain of 100,000 nested contexts cancels without overflowing the stack', () => {
    const k = createKey<number>('depth');
    let ctx: Context = background();
    let cancelRoot: (() => void) | undefined;
    const chain: Context[] = [];
    for (let i = 0; i < 100_000; i++) {
      const [c, cancel] = i % 2 === 0 ? withCancel(ctx) : withTimeout(ctx, 60_000);
      cancelRoot ??= cancel;
      ctx = i % 1000 === 0 ? withValue(c, k, i) : c;
      chain.push(ctx);
    }
    assert.equal(ctx.value(k), 99_000);
    (cancelRoot as () => void)();
    assert.ok(chain.every((c) => isCanceled(c.err)));
  });

  test('a child derived from an abort listener of its cancelled parent is born cancelled', () => {
    const [parent, cancel] = withCancel(background());
    let born: Context | undefined;
    parent.signal.addEventListener('abort', () => {
      [born] = withCancel(parent);
    });
    cancel();
    assert.ok(born && isCanceled(born.err));
    assert.equal(childCount(parent), 0);
  });

  test('a sibling cancelled from a listener during the parent cancellation is handled once', () => {
    const [parent, cancel] = withCancel(background());
    const kids = Array.from({ length: 5 }, () => withCancel(parent));
    let aborts = 0;
    kids.forEach(([c], i) => {
      c.signal.addEventListener('abort', () => {
        aborts++;
        // Cancel a sibling not yet reached by the parent's loop.
        (kids[(i + 2) % kids.length] as [Context, () => void])[1]();
      });
    });
    cancel();
    assert.equal(aborts, 5);
    for (const [c] of kids) assert.ok(isDone(c));
    assert.equal(childCount(parent), 0);
  });
});

describe('custom (foreign) parent contexts', () => {
  /** A context leash did not make: its own AbortController, Go's "custom context". */
  class ForeignContext implements Context {
    readonly #controller = new AbortController();
    readonly deadline: number | undefined = undefined;
    err: Error | undefined = undefined;
    get signal(): AbortSignal {
      return this.#controller.signal;
    }
    get done(): Promise<void> {
      return new Promise((resolve) => this.signal.addEventListener('abort', () => resolve(), { once: true }));
    }
    value<T>(): T | undefined {
      return undefined;
    }
    cancel(reason?: unknown): void {
      this.err = new CanceledError('foreign canceled');
      this.#controller.abort(reason);
    }
    listenerCount(): number {
      return getEventListeners(this.signal, 'abort').length;
    }
  }

  test('a child of a foreign context is cancelled with it, through one listener however many children', () => {
    const foreign = new ForeignContext();
    const children = Array.from({ length: 50 }, () => withCancel(foreign));
    const [grandchild] = withTimeout((children[0] as [Context, () => void])[0], 60_000);
    assert.equal(foreign.listenerCount(), 1, 'one bridge listener, not one per child');
    foreign.cancel();
    for (const [c] of children) {
      assert.equal(c.err, foreign.err, 'takes the foreign err');
      assert.equal(cause(c), foreign.err);
    }
    assert.ok(isCanceled(grandchild.err));
    assert.equal(foreign.listenerCount(), 0);
  });

  test('children of a foreign context cancelled first unlink; the last one removes the listener', () => {
    const foreign = new ForeignContext();
    const [a, cancelA] = withCancel(foreign);
    const [, cancelB] = withCancel(withValue(foreign, createKey('k'), 1));
    assert.equal(foreign.listenerCount(), 1);
    cancelA();
    assert.ok(isCanceled(a.err));
    assert.equal(foreign.listenerCount(), 1);
    cancelB();
    assert.equal(foreign.listenerCount(), 0);
    assert.equal(foreign.err, undefined);
  });

  test('a child of an already-done foreign context is done at once', () => {
    const foreign = new ForeignContext();
    foreign.cancel();
    const [child] = withCancel(foreign);
    assert.equal(child.err, foreign.err);
  });

  test('values pass through a foreign context to its leash ancestors', () => {
    const k = createKey<string>('k');
    const inner = withValue(background(), k, 'inner');
    const wrapper = wrapping(inner);
    const outer = withValue(wrapper, createKey('other'), 1);
    assert.equal(outer.value(k), 'inner');
  });

  test('cause() sees through a wrapper that delegates value() to a leash context (Go custom context)', () => {
    const [inner, cancel] = withCancelCause(background());
    const wrapper = wrapping(inner);
    const [child] = withCancel(wrapper);
    const why = new Error('custom cause');
    cancel(why);
    assert.ok(isCanceled(wrapper.err));
    assert.equal(cause(wrapper), why);
    assert.equal(cause(child), why);
  });
});
