// Acceptance tests for the `leashjs` export, written from the core contract (docs/architecture.md) and issue 2
// alone (not from the implementation). They import through the package name, as a user would.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  abortable,
  afterFunc,
  background,
  CanceledError,
  type Context,
  cause,
  createKey,
  DeadlineExceededError,
  fromSignal,
  isCanceled,
  isDeadlineExceeded,
  type Key,
  remaining,
  sleep,
  todo,
  withCancel,
  withCancelCause,
  withDeadline,
  withDeadlineCause,
  withoutCancel,
  withTimeout,
  withTimeoutCause,
  withValue,
} from 'leashjs';
import { delay, expectInvalid, isPending, turn } from './support.js';

// errOf reads err without letting an earlier assertion narrow its type.
const errOf = (ctx: Context): Error | undefined => ctx.err;

const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

async function waitDone(ctx: Context, ms = 2000): Promise<void> {
  await Promise.race([
    ctx.done,
    delay(ms).then(() => {
      throw new Error(`context not done within ${ms} ms`);
    }),
  ]);
}

describe('background and todo', () => {
  test('background is one shared, never-done instance with no deadline or values', async () => {
    const bg = background();
    assert.equal(bg, background());
    assert.equal(errOf(bg), undefined);
    assert.equal(bg.deadline, undefined);
    assert.equal(bg.value(createKey<number>('k')), undefined);
    assert.equal(cause(bg), undefined);
    assert.equal(remaining(bg), Number.POSITIVE_INFINITY);
    assert.equal(bg.signal.aborted, false);
    assert.equal(await isPending(bg.done), true);
  });

  test('todo is never done, has no deadline and no values', async () => {
    const t = todo();
    assert.equal(errOf(t), undefined);
    assert.equal(t.deadline, undefined);
    assert.equal(t.value(createKey<number>('k')), undefined);
    assert.equal(await isPending(t.done), true);
  });
});

describe('withCancel', () => {
  test('cancel sets err at once on the context and every descendant; done resolves later', async () => {
    const [root, cancelRoot] = withCancel(background());
    const [a] = withCancel(root);
    const b = withValue(a, createKey<string>('x'), 'v');
    const [c] = withTimeout(b, 60_000);
    const [d] = withCancelCause(c);
    const events: string[] = [];
    void d.done.then(() => events.push('done'));
    cancelRoot();
    events.push('returned');
    for (const ctx of [root, a, b, c, d]) {
      assert.ok(ctx.err instanceof CanceledError);
      assert.equal(ctx.err, root.err, 'a child cancelled through its parent takes the parent err');
      assert.equal(cause(ctx), root.err);
    }
    assert.deepEqual(events, ['returned']);
    await d.done;
    assert.deepEqual(events, ['returned', 'done']);
  });

  test('err is a CanceledError named AbortError with code LEASH_ERR_CANCELED', () => {
    const [ctx, cancel] = withCancel(background());
    assert.equal(errOf(ctx), undefined);
    assert.equal(cause(ctx), undefined);
    cancel();
    const err = ctx.err;
    assert.ok(err instanceof CanceledError);
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'AbortError');
    assert.equal((err as CanceledError).code, 'LEASH_ERR_CANCELED');
    assert.equal(cause(ctx), err);
    assert.equal(isCanceled(err), true);
    assert.equal(isDeadlineExceeded(err), false);
  });

  test('cancel is idempotent and Disposable', () => {
    const [ctx, cancel] = withCancel(background());
    cancel();
    const err = ctx.err;
    cancel();
    cancel[Symbol.dispose]();
    assert.equal(ctx.err, err);

    let inner: Context | undefined;
    {
      using _cancel = withCancel(background())[1];
      const [c2, cancel2] = withCancel(background());
      inner = c2;
      using _c = cancel2;
      assert.equal(errOf(inner), undefined);
    }
    assert.ok(inner.err instanceof CanceledError, 'using cancels at scope exit');
  });

  test('a child cancelled first does not cancel its parent or siblings', () => {
    const [parent, cancelParent] = withCancel(background());
    const [child, cancelChild] = withCancel(parent);
    const [sibling] = withCancel(parent);
    cancelChild();
    assert.ok(child.err instanceof CanceledError);
    assert.equal(errOf(parent), undefined);
    assert.equal(errOf(sibling), undefined);
    cancelParent();
    assert.ok(sibling.err instanceof CanceledError);
  });

  test('a child of an already-cancelled parent is cancelled at once with the parent err and cause', () => {
    const [parent, cancel] = withCancelCause(background());
    const why = new Error('why');
    cancel(why);
    const [child] = withCancel(parent);
    assert.equal(child.err, parent.err);
    assert.equal(cause(child), why);
    const [t] = withTimeout(parent, 10_000);
    assert.equal(t.err, parent.err);
    assert.equal(cause(t), why);
  });

  test('done resolves (never rejects) and is the same promise each read', async () => {
    const [ctx, cancel] = withCancel(background());
    const p = ctx.done;
    assert.equal(ctx.done, p);
    assert.equal(await isPending(p), true);
    cancel();
    assert.equal(await p, undefined);
    const [ctx2, cancel2] = withCancel(background());
    cancel2();
    await ctx2.done; // read only after cancel
  });

  test('signal aborts with reason === cause(ctx), also when first read after cancel', () => {
    const [a, cancelA] = withCancelCause(background());
    const sig = a.signal;
    assert.equal(sig.aborted, false);
    assert.equal(a.signal, sig);
    const why = new Error('boom');
    cancelA(why);
    assert.equal(sig.aborted, true, 'signal aborted before cancel returns');
    assert.equal(sig.reason, why);

    const [b, cancelB] = withCancel(background());
    cancelB();
    assert.equal(b.signal.aborted, true);
    assert.equal(b.signal.reason, b.err);
  });

  test('every descendant is done before any abort listener runs', () => {
    const [parent, cancel] = withCancel(background());
    const [child] = withCancel(parent);
    const [grand] = withTimeout(child, 60_000);
    const seen: unknown[] = [];
    parent.signal.addEventListener('abort', () => seen.push(grand.err, child.err));
    grand.signal.addEventListener('abort', () => seen.push(parent.err));
    cancel();
    assert.equal(seen.length, 3);
    for (const e of seen) assert.ok(e instanceof CanceledError);
  });

  test('a child signal read before the parent is cancelled aborts with the parent cause', () => {
    const [parent, cancel] = withCancelCause(background());
    const [child] = withCancel(parent);
    const sig = child.signal;
    const why = new Error('parent');
    cancel(why);
    assert.equal(sig.aborted, true);
    assert.equal(sig.reason, why);
  });
});

describe('causes (Go TestCause)', () => {
  const why = new Error('why');
  const later = new Error('later');

  test('withCancelCause: cause is the given cause, err is CanceledError', () => {
    const [ctx, cancel] = withCancelCause(background());
    cancel(why);
    assert.ok(ctx.err instanceof CanceledError);
    assert.equal(cause(ctx), why);
  });

  test('withCancelCause with no cause: cause is ctx.err', () => {
    const [ctx, cancel] = withCancelCause(background());
    cancel();
    assert.equal(cause(ctx), ctx.err);
    const [ctx2, cancel2] = withCancelCause(background());
    cancel2(undefined);
    assert.equal(cause(ctx2), ctx2.err);
  });

  test('the first cancellation wins: later causes change nothing', () => {
    const [ctx, cancel] = withCancelCause(background());
    cancel(why);
    const err = ctx.err;
    cancel(later);
    cancel();
    assert.equal(cause(ctx), why);
    assert.equal(ctx.err, err);
  });

  test('a child cancelled first keeps its own cause when the parent is cancelled later', () => {
    const [parent, cancelParent] = withCancelCause(background());
    const [child, cancelChild] = withCancelCause(parent);
    cancelChild(why);
    cancelParent(later);
    assert.equal(cause(child), why);
    assert.equal(cause(parent), later);
  });

  test('a child cancelled through its parent takes the parent cause, also across withValue', () => {
    const [parent, cancelParent] = withCancelCause(background());
    const v = withValue(parent, createKey<number>('n'), 1);
    const [child, cancelChild] = withCancelCause(v);
    cancelParent(why);
    cancelChild(later);
    assert.equal(cause(child), why);
    assert.equal(cause(v), why);
    assert.equal(v.err, parent.err);
  });

  test('withDeadlineCause: the cause is used when the timer fires', async () => {
    const [ctx] = withTimeoutCause(background(), 20, why);
    await waitDone(ctx);
    assert.ok(ctx.err instanceof DeadlineExceededError);
    assert.equal(cause(ctx), why);
    assert.equal(ctx.signal.reason, why);
  });

  test('withDeadlineCause: cancel before the timer gives CanceledError and no custom cause', async () => {
    const [ctx, cancel] = withDeadlineCause(background(), Date.now() + 30, why);
    cancel();
    assert.ok(ctx.err instanceof CanceledError);
    assert.equal(cause(ctx), ctx.err);
    await delay(60);
    assert.ok(ctx.err instanceof CanceledError, 'a later timer changes nothing');
    assert.equal(cause(ctx), ctx.err);
  });

  test('withDeadlineCause already past: DeadlineExceededError at once, with the cause', () => {
    const [ctx] = withDeadlineCause(background(), Date.now() - 1000, why);
    assert.ok(ctx.err instanceof DeadlineExceededError);
    assert.equal(cause(ctx), why);
  });

  test('withTimeoutCause under a parent cancelled with a cause takes the parent cause', () => {
    const [parent, cancel] = withCancelCause(background());
    cancel(why);
    const [child] = withTimeoutCause(parent, 1000, later);
    assert.ok(child.err instanceof CanceledError);
    assert.equal(cause(child), why);
  });

  test('a child of an expired parent with a custom cause takes both', async () => {
    const [parent] = withTimeoutCause(background(), 20, why);
    const [child] = withCancelCause(parent);
    await waitDone(child);
    assert.ok(child.err instanceof DeadlineExceededError);
    assert.equal(cause(child), why);
  });

  test('cause of a non-leash context is its err', () => {
    const foreign = makeForeign();
    assert.equal(cause(foreign.ctx), undefined);
    foreign.cancel();
    assert.equal(cause(foreign.ctx), foreign.ctx.err);
  });
});

describe('deadlines and timeouts', () => {
  test('withTimeout fires with DeadlineExceededError (name TimeoutError, timeout true)', async () => {
    const before = Date.now();
    const [ctx, cancel] = withTimeout(background(), 30);
    assert.ok(ctx.deadline !== undefined);
    assert.ok(ctx.deadline >= before + 30 && ctx.deadline <= Date.now() + 30);
    assert.equal(errOf(ctx), undefined);
    await waitDone(ctx);
    assert.ok(Date.now() >= before + 25, 'not early');
    const err = ctx.err as DeadlineExceededError;
    assert.ok(err instanceof DeadlineExceededError);
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'TimeoutError');
    assert.equal(err.timeout, true);
    assert.equal(err.code, 'LEASH_ERR_DEADLINE_EXCEEDED');
    assert.equal(cause(ctx), err);
    assert.equal(isDeadlineExceeded(err), true);
    assert.equal(isCanceled(err), false);
    assert.equal(ctx.signal.reason, err);
    assert.equal(remaining(ctx), 0);
    cancel();
    assert.equal(ctx.err, err, 'cancel after the deadline changes nothing');
  });

  test('withDeadline accepts a Date and epoch ms', () => {
    const at = Date.now() + 10_000;
    const [a, ca] = withDeadline(background(), at);
    const [b, cb] = withDeadline(background(), new Date(at));
    assert.equal(a.deadline, at);
    assert.equal(b.deadline, at);
    ca();
    cb();
  });

  test('a deadline already past cancels at once (synchronously) with DeadlineExceededError', () => {
    const [a] = withDeadline(background(), Date.now() - 1);
    assert.ok(a.err instanceof DeadlineExceededError);
    assert.equal(cause(a), a.err);
    assert.equal(a.signal.aborted, true);
    const [b] = withDeadline(background(), new Date(0));
    assert.ok(b.err instanceof DeadlineExceededError);
    const [c] = withTimeout(background(), 0);
    assert.ok(c.err instanceof DeadlineExceededError);
    assert.equal(remaining(c), 0);
  });

  test('a child never has a later deadline than its parent', async () => {
    const [parent, cancelParent] = withTimeout(background(), 40);
    const [child, cancelChild] = withDeadline(parent, (parent.deadline as number) + 60_000);
    assert.equal(child.deadline, parent.deadline);
    const [child2] = withTimeout(parent, 60_000);
    assert.equal(child2.deadline, parent.deadline);
    await waitDone(child);
    assert.ok(child.err instanceof DeadlineExceededError);
    assert.equal(child.err, parent.err);
    cancelChild();
    cancelParent();
  });

  test('a child with an earlier deadline expires first; the parent lives on', async () => {
    const [parent, cancelParent] = withTimeout(background(), 60_000);
    const [child] = withTimeout(parent, 20);
    assert.ok((child.deadline as number) < (parent.deadline as number));
    await waitDone(child);
    assert.ok(child.err instanceof DeadlineExceededError);
    assert.equal(errOf(parent), undefined);
    cancelParent();
  });

  test('the first cancellation wins over a later deadline', async () => {
    const [ctx, cancel] = withTimeout(background(), 20);
    cancel();
    await delay(50);
    assert.ok(ctx.err instanceof CanceledError);
  });

  test('a child cancelled before its parent expires keeps CanceledError', async () => {
    const [parent] = withTimeout(background(), 20);
    const [child, cancelChild] = withCancel(parent);
    cancelChild();
    await waitDone(parent);
    assert.ok(child.err instanceof CanceledError);
    assert.ok(parent.err instanceof DeadlineExceededError);
  });

  test('remaining: Infinity without deadline, ms until it, 0 when past', () => {
    assert.equal(remaining(background()), Number.POSITIVE_INFINITY);
    const [a, ca] = withCancel(background());
    assert.equal(remaining(a), Number.POSITIVE_INFINITY);
    const [b, cb] = withTimeout(background(), 5000);
    const r = remaining(b);
    assert.ok(r > 4000 && r <= 5000, `remaining ${r}`);
    const [c] = withDeadline(background(), Date.now() - 5000);
    assert.equal(remaining(c), 0);
    ca();
    cb();
  });

  test('many live deadlines cost at most one Node timer', () => {
    const before = timeouts();
    const cancels = [];
    for (let i = 0; i < 10_000; i++) cancels.push(withTimeout(background(), 10_000 + i)[1]);
    assert.ok(timeouts() <= before + 1, `timers ${before} -> ${timeouts()}`);
    for (const c of cancels) c();
  });

  test('a deadline nothing waits on does not keep the process alive', () => {
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import { withTimeout, background } from 'leashjs'; globalThis.keep = withTimeout(background(), 20000); console.log('end');",
      ],
      { encoding: 'utf8', timeout: 10_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'end');
  });

  test('sleep on a deadline context keeps the process alive until the deadline', () => {
    const script = `
      import { withTimeout, background, sleep } from 'leashjs';
      const [ctx] = withTimeout(background(), 150);
      const t = Date.now();
      sleep(ctx, 60000).then(() => console.log('resolved'), (e) => console.log(e.name, Date.now() - t >= 100));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'TimeoutError true');
  });
});

describe('values', () => {
  test('value lookup, shadowing and key identity', () => {
    const k1 = createKey<string>('user');
    const k2 = createKey<string>('user'); // same name, different key
    const a = withValue(background(), k1, 'alice');
    const b = withValue(a, k2, 'bob');
    const c = withValue(b, k1, 'carol');
    assert.equal(a.value(k1), 'alice');
    assert.equal(a.value(k2), undefined);
    assert.equal(b.value(k1), 'alice');
    assert.equal(b.value(k2), 'bob');
    assert.equal(c.value(k1), 'carol', 'nearest value wins');
    assert.equal(c.value(k2), 'bob');
    assert.equal(a.value(k1), 'alice', 'shadowing does not change the parent');
    assert.equal(k1.name, 'user');
  });

  test('values pass through cancel, timeout, and cancelled contexts', () => {
    const k = createKey<{ n: number }>('obj');
    const obj = { n: 1 };
    const v = withValue(background(), k, obj);
    const [c, cancel] = withCancel(v);
    const [t, ct] = withTimeout(c, 1000);
    cancel();
    assert.equal(t.value(k), obj);
    assert.equal(c.value(k), obj);
    ct();
  });

  test('withValue does not add cancellation or a deadline', () => {
    const [p, cancel] = withTimeout(background(), 10_000);
    const v = withValue(p, createKey<number>('n'), 1);
    assert.equal(v.deadline, p.deadline);
    assert.equal(errOf(v), undefined);
    cancel();
    assert.equal(v.err, p.err);
  });

  test('a key not made by createKey is rejected', async () => {
    await expectInvalid(() => withValue(background(), 'k' as unknown as Key<number>, 1), 'string key');
    await expectInvalid(
      () => withValue(background(), { name: 'k' } as unknown as Key<number>, 1),
      'fake key',
    );
    await expectInvalid(
      () => withValue(background(), undefined as unknown as Key<number>, 1),
      'undefined key',
    );
  });
});

describe('withoutCancel', () => {
  test('keeps values; never done; no deadline; no cause', async () => {
    const k = createKey<string>('k');
    const [parent, cancel] = withCancelCause(withValue(background(), k, 'v'));
    const [dl, cancelDl] = withTimeout(parent, 20);
    const w = withoutCancel(dl);
    assert.equal(w.value(k), 'v');
    assert.equal(w.deadline, undefined);
    assert.equal(remaining(w), Number.POSITIVE_INFINITY);
    cancel(new Error('x'));
    assert.equal(errOf(w), undefined);
    assert.equal(cause(w), undefined);
    assert.equal(w.signal.aborted, false);
    assert.equal(await isPending(w.done), true);
    cancelDl();
  });

  test('of an already-cancelled parent is live; its children cancel independently', () => {
    const [parent, cancel] = withCancel(background());
    cancel();
    const w = withoutCancel(parent);
    assert.equal(errOf(w), undefined);
    const [child, cancelChild] = withCancelCause(w);
    assert.equal(errOf(child), undefined);
    const why = new Error('own');
    cancelChild(why);
    assert.equal(cause(child), why);
    const [t, ct] = withTimeout(w, 5000);
    assert.equal(errOf(t), undefined);
    ct();
  });
});

describe('afterFunc', () => {
  test('runs once, asynchronously, after cancel', async () => {
    const [ctx, cancel] = withCancel(background());
    let runs = 0;
    afterFunc(ctx, () => runs++);
    await turn();
    assert.equal(runs, 0);
    cancel();
    assert.equal(runs, 0, 'not synchronously inside cancel');
    cancel();
    await turn();
    assert.equal(runs, 1);
    await delay(10);
    assert.equal(runs, 1);
  });

  test('runs after a timeout', async () => {
    const [ctx] = withTimeout(background(), 20);
    let seen: unknown;
    const ran = new Promise<void>((r) =>
      afterFunc(ctx, () => {
        seen = ctx.err;
        r();
      }),
    );
    // afterFunc, like an 'abort' listener on AbortSignal.timeout, does not keep the process alive
    // (only blocking operations and reading ctx.done do): this ref'd timer stands in for the rest
    // of a program that is still running.
    const alive = setTimeout(() => {}, 5000);
    await ran;
    clearTimeout(alive);
    assert.ok(seen instanceof DeadlineExceededError);
  });

  test('on an already-done context it runs (asynchronously)', async () => {
    const [ctx, cancel] = withCancel(background());
    cancel();
    let runs = 0;
    afterFunc(ctx, () => runs++);
    assert.equal(runs, 0);
    await turn();
    assert.equal(runs, 1);
  });

  test('stop before done: true, fn never runs; stop again: false', async () => {
    const [ctx, cancel] = withCancel(background());
    let runs = 0;
    const stop = afterFunc(ctx, () => runs++);
    assert.equal(stop(), true);
    assert.equal(stop(), false);
    cancel();
    await delay(5);
    assert.equal(runs, 0);
  });

  test('stop after fn ran: false', async () => {
    const [ctx, cancel] = withCancel(background());
    let runs = 0;
    const stop = afterFunc(ctx, () => runs++);
    cancel();
    await turn();
    assert.equal(runs, 1);
    assert.equal(stop(), false);
  });

  test('stop between cancel and the run: the result says whether fn runs', async () => {
    for (const alreadyDone of [false, true]) {
      const [ctx, cancel] = withCancel(background());
      if (alreadyDone) cancel();
      let runs = 0;
      const stop = afterFunc(ctx, () => runs++);
      cancel();
      const stopped = stop();
      await delay(5);
      assert.equal(runs, stopped ? 0 : 1, `alreadyDone=${alreadyDone} stopped=${stopped} runs=${runs}`);
      assert.equal(stop(), false);
    }
  });

  test('several on one context all run once; a stopped one does not', async () => {
    const [ctx, cancel] = withCancel(background());
    const ran: number[] = [];
    const stops = [0, 1, 2, 3].map((i) => afterFunc(ctx, () => ran.push(i)));
    assert.equal(stops[2]?.(), true);
    cancel();
    await delay(5);
    assert.deepEqual([...ran].sort(), [0, 1, 3]);
  });

  test('on a child, runs when the parent is cancelled', async () => {
    const [parent, cancel] = withCancel(background());
    const [child] = withCancel(withValue(parent, createKey<number>('n'), 1));
    let runs = 0;
    afterFunc(child, () => runs++);
    cancel();
    await turn();
    assert.equal(runs, 1);
  });

  test('a non-function is rejected', async () => {
    await expectInvalid(() => afterFunc(background(), 'x' as unknown as () => void), 'afterFunc string');
    await expectInvalid(
      () => afterFunc(background(), undefined as unknown as () => void),
      'afterFunc undefined',
    );
  });
});

describe('fromSignal', () => {
  test('is cancelled when the foreign signal aborts, and removes its listener', async () => {
    const ac = new AbortController();
    const before = getEventListeners(ac.signal, 'abort').length;
    const [ctx, cancel] = fromSignal(background(), ac.signal);
    assert.equal(errOf(ctx), undefined);
    const reason = new Error('stop');
    ac.abort(reason);
    await turn();
    assert.ok(isCanceled(ctx.err) || isDeadlineExceeded(ctx.err), String(ctx.err));
    assert.equal(getEventListeners(ac.signal, 'abort').length, before);
    cancel();
  });

  test('an already-aborted signal cancels at once', () => {
    const ac = new AbortController();
    ac.abort();
    const [ctx] = fromSignal(background(), ac.signal);
    assert.ok(ctx.err instanceof CanceledError);
  });

  test('is also cancelled by its parent and by cancel; either removes its listener', async () => {
    const ac = new AbortController();
    const count = () => getEventListeners(ac.signal, 'abort').length;
    const [a, cancelA] = fromSignal(background(), ac.signal);
    assert.ok(count() >= 1);
    cancelA();
    assert.ok(a.err instanceof CanceledError);
    await turn();
    assert.equal(count(), 0, 'cancel removes the listener');

    const [parent, cancelParent] = withCancel(background());
    const [c] = fromSignal(parent, ac.signal);
    assert.ok(count() >= 1);
    cancelParent();
    assert.ok(c.err instanceof CanceledError);
    await turn();
    assert.equal(count(), 0, 'parent cancel removes the listener');

    const [b] = fromSignal(background(), ac.signal);
    const [b2, cancelB2] = fromSignal(background(), ac.signal);
    cancelB2();
    assert.ok(b2.err instanceof CanceledError);
    assert.equal(errOf(b), undefined, 'one fromSignal child cancelled does not cancel another');
    ac.abort();
    await turn();
    assert.ok(b.err instanceof CanceledError);
    assert.equal(count(), 0);
  });

  test('a non-signal is rejected', async () => {
    await expectInvalid(() => fromSignal(background(), {} as AbortSignal), 'fromSignal {}');
    await expectInvalid(
      () => fromSignal(background(), undefined as unknown as AbortSignal),
      'fromSignal undefined',
    );
  });
});

describe('sleep', () => {
  test('resolves after ms and leaves no timer', async () => {
    const before = timeouts();
    const t = Date.now();
    await sleep(background(), 30);
    assert.ok(Date.now() - t >= 25);
    await turn();
    assert.equal(timeouts(), before);
  });

  test('rejects with ctx.err when the context ends first, leaving no timer', async () => {
    const before = timeouts();
    const [ctx, cancel] = withCancel(background());
    const p = sleep(ctx, 60_000);
    setTimeout(cancel, 10);
    await assert.rejects(p, (e) => e === ctx.err && e instanceof CanceledError);
    await turn();
    assert.equal(timeouts(), before);
  });

  test('rejects with DeadlineExceededError when the deadline comes first', async () => {
    const [ctx, cancel] = withTimeout(background(), 20);
    await assert.rejects(sleep(ctx, 60_000), (e) => e === ctx.err && e instanceof DeadlineExceededError);
    cancel();
  });

  test('on an already-done context rejects at once', async () => {
    const [ctx, cancel] = withCancelCause(background());
    cancel(new Error('x'));
    await assert.rejects(sleep(ctx, 0), (e) => e === ctx.err);
  });

  test('bad ms is rejected', async () => {
    await expectInvalid(() => sleep(background(), Number.NaN), 'sleep NaN');
    await expectInvalid(() => sleep(background(), -1), 'sleep -1');
    await expectInvalid(() => sleep(background(), '5' as unknown as number), "sleep '5'");
  });
});

describe('abortable', () => {
  test('settles as the promise does', async () => {
    const [ctx, cancel] = withCancel(background());
    assert.equal(await abortable(ctx, Promise.resolve(42)), 42);
    const boom = new Error('boom');
    await assert.rejects(abortable(ctx, Promise.reject(boom)), (e) => e === boom);
    cancel();
  });

  test('rejects with ctx.err if the context ends first', async () => {
    const [ctx, cancel] = withCancelCause(background());
    const never = new Promise<number>(() => {});
    const p = abortable(ctx, never);
    assert.equal(await isPending(p), true);
    cancel(new Error('why'));
    await assert.rejects(p, (e) => e === ctx.err && e instanceof CanceledError);
  });

  test('on an already-done context rejects with ctx.err', async () => {
    const [ctx] = withTimeout(background(), 0);
    await assert.rejects(abortable(ctx, new Promise(() => {})), (e) => e === ctx.err);
  });

  test('many calls on one long-lived context retain nothing once settled', async () => {
    const [ctx, cancel] = withCancel(background());
    const gc = (globalThis as { gc?: () => void }).gc;
    const run = async (n: number) => {
      for (let i = 0; i < n; i++) await abortable(ctx, Promise.resolve(i));
    };
    await run(200_000); // warm up: Node 24 grows the heap once on the first large round
    await turn();
    gc?.();
    const before = process.memoryUsage().heapUsed;
    await run(200_000);
    await turn();
    gc?.();
    const grown = process.memoryUsage().heapUsed - before;
    if (gc) assert.ok(grown < 2_000_000, `heap grew ${grown} bytes`);
    cancel();
  });
});

describe('cancel tree memory', () => {
  test('cancelled children are unlinked: many derived and cancelled children retain nothing', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    const [parent, cancelParent] = withCancel(background());
    void parent.signal; // a parent whose signal and done were read
    void parent.done;
    const run = (n: number) => {
      for (let i = 0; i < n; i++) {
        const [c, cancel] = i % 2 ? withCancel(parent) : withTimeout(parent, 60_000);
        if (i % 3 === 0) void c.signal;
        if (i % 3 === 1) void c.done;
        cancel();
      }
    };
    run(300_000); // warm up with a full round: Node 24 grows the heap once
    await turn(); // let the resolved done promises' jobs drain before measuring
    gc?.();
    const before = process.memoryUsage().heapUsed;
    run(300_000);
    await turn();
    gc?.();
    const grown = process.memoryUsage().heapUsed - before;
    if (gc) assert.ok(grown < 1_000_000, `heap grew ${grown} bytes`);
    cancelParent();
  });
});

describe('errors', () => {
  test('isCanceled / isDeadlineExceeded follow .cause chains', () => {
    const [c, cancel] = withCancel(background());
    cancel();
    const [d] = withTimeout(background(), 0);
    const wrapped = new Error('outer', { cause: new Error('mid', { cause: c.err }) });
    assert.equal(isCanceled(wrapped), true);
    assert.equal(isDeadlineExceeded(wrapped), false);
    const wrappedD = new Error('outer', { cause: d.err });
    assert.equal(isDeadlineExceeded(wrappedD), true);
    assert.equal(isCanceled(wrappedD), false);
    assert.equal(isCanceled(new CanceledError()), true);
    assert.equal(isDeadlineExceeded(new DeadlineExceededError()), true);
    assert.equal(isCanceled(new Error('plain')), false);
    for (const v of [undefined, null, 'AbortError', 42, {}]) {
      assert.equal(isCanceled(v), false);
      assert.equal(isDeadlineExceeded(v), false);
    }
  });

  test('a cyclic .cause chain terminates', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    assert.equal(isCanceled(a), false);
    assert.equal(isDeadlineExceeded(a), false);
  });

  test('constructible error classes keep their names, codes and instanceof', () => {
    const c = new CanceledError();
    assert.equal(c.name, 'AbortError');
    assert.equal(c.code, 'LEASH_ERR_CANCELED');
    assert.ok(c.message.length > 0);
    const d = new DeadlineExceededError();
    assert.equal(d.name, 'TimeoutError');
    assert.equal(d.timeout, true);
    assert.ok(!(d instanceof CanceledError));
  });
});

describe('bad input', () => {
  test('non-context parents are rejected by every derive function', async () => {
    for (const bad of [undefined, null, {}, 42, 'ctx', new AbortController().signal]) {
      const p = bad as unknown as Context;
      await expectInvalid(() => withCancel(p), `withCancel(${String(bad)})`);
      await expectInvalid(() => withCancelCause(p), `withCancelCause(${String(bad)})`);
      await expectInvalid(() => withTimeout(p, 10), `withTimeout(${String(bad)})`);
      await expectInvalid(() => withDeadline(p, Date.now() + 10), `withDeadline(${String(bad)})`);
      await expectInvalid(() => withValue(p, createKey<number>('k'), 1), `withValue(${String(bad)})`);
      await expectInvalid(() => withoutCancel(p), `withoutCancel(${String(bad)})`);
      await expectInvalid(() => fromSignal(p, new AbortController().signal), `fromSignal(${String(bad)})`);
    }
  });

  test('bad timeouts and deadlines are rejected', async () => {
    const bg = background();
    await expectInvalid(() => withTimeout(bg, Number.NaN), 'withTimeout NaN');
    await expectInvalid(() => withTimeout(bg, -1), 'withTimeout -1');
    await expectInvalid(() => withTimeout(bg, '10' as unknown as number), "withTimeout '10'");
    await expectInvalid(() => withTimeoutCause(bg, Number.NaN, new Error()), 'withTimeoutCause NaN');
    await expectInvalid(() => withDeadline(bg, new Date('nope')), 'withDeadline invalid Date');
    await expectInvalid(() => withDeadline(bg, Number.NaN), 'withDeadline NaN');
    await expectInvalid(() => withDeadline(bg, '2030-01-01' as unknown as number), 'withDeadline string');
    await expectInvalid(() => withDeadlineCause(bg, Number.NaN, new Error()), 'withDeadlineCause NaN');
  });
});

// makeForeign is a Context that is not leash's own (Go's custom context case).
function makeForeign(deadline?: number, values?: Map<Key<unknown>, unknown>) {
  const ac = new AbortController();
  let resolve!: () => void;
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  let err: Error | undefined;
  const ctx: Context = {
    get deadline() {
      return deadline;
    },
    get err() {
      return err;
    },
    get signal() {
      return ac.signal;
    },
    get done() {
      return done;
    },
    value<T>(key: Key<T>): T | undefined {
      return values?.get(key as Key<unknown>) as T | undefined;
    },
  };
  return {
    ctx,
    cancel() {
      if (err) return;
      err = new CanceledError();
      ac.abort(err);
      resolve();
    },
  };
}

describe('custom parent contexts', () => {
  test('a child of a foreign context is cancelled when it is done, and sees its values and deadline', async () => {
    const k = createKey<string>('k');
    const dl = Date.now() + 60_000;
    const foreign = makeForeign(dl, new Map([[k as Key<unknown>, 'fv']]));
    const [child, cancelChild] = withCancel(foreign.ctx);
    const [grand] = withTimeout(child, 120_000);
    assert.equal(child.value(k), 'fv');
    assert.equal(grand.deadline, dl);
    assert.equal(errOf(child), undefined);
    foreign.cancel();
    await waitDone(grand);
    assert.ok(isCanceled(child.err));
    assert.ok(isCanceled(grand.err));
    cancelChild();
  });

  test('a child of an already-done foreign context is done', async () => {
    const foreign = makeForeign();
    foreign.cancel();
    const [child] = withCancel(foreign.ctx);
    await waitDone(child, 500);
    assert.ok(isCanceled(child.err));
  });

  test('a child cancelled first leaves no listener on the foreign context', async () => {
    const foreign = makeForeign();
    const sig = foreign.ctx.signal;
    const base = getEventListeners(sig, 'abort').length;
    for (let i = 0; i < 100; i++) {
      const [, cancel] = withCancel(foreign.ctx);
      cancel();
    }
    await turn();
    assert.ok(getEventListeners(sig, 'abort').length <= base + 1, 'listeners are removed on cancel');
  });
});

describe('edge cases a Go engineer checks', () => {
  test('deadlines never fire early, and the shared queue keeps order', async () => {
    const lateness: number[] = [];
    const all: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      const [ctx] = withTimeout(background(), 1 + ((i * 37) % 90));
      all.push(
        new Promise<void>((r) =>
          afterFunc(ctx, () => {
            lateness.push(Date.now() - (ctx.deadline as number));
            assert.equal(remaining(ctx), 0);
            r();
          }),
        ),
      );
    }
    await Promise.all(all);
    assert.ok(Math.min(...lateness) >= 0, `fired early by ${-Math.min(...lateness)} ms`);
  });

  test('a short deadline made after a long one fires on time; cancelling the earliest keeps the next', async () => {
    const [long, cancelLong] = withTimeout(background(), 60_000);
    const t0 = Date.now();
    const [short] = withTimeout(background(), 30);
    await waitDone(short, 1000);
    assert.ok(Date.now() - t0 < 500);
    const [first, cancelFirst] = withTimeout(background(), 20);
    const [second] = withTimeout(background(), 40);
    cancelFirst();
    await waitDone(second, 1000);
    assert.ok(second.err instanceof DeadlineExceededError);
    assert.ok(first.err instanceof CanceledError);
    assert.equal(errOf(long), undefined);
    cancelLong();
  });

  test('a deadline created inside an afterFunc callback fires', async () => {
    const [f] = withTimeout(background(), 5);
    const made = new Promise<Context>((r) => afterFunc(f, () => r(withTimeout(background(), 10)[0])));
    await waitDone(await made, 1000);
  });

  test('timeouts beyond setTimeout range do not fire at once', async () => {
    const [a, ca] = withTimeout(background(), 3e9);
    const [b, cb] = withDeadline(background(), Date.now() + 2 ** 31 + 5);
    await delay(50);
    assert.equal(errOf(a), undefined);
    assert.equal(errOf(b), undefined);
    ca();
    cb();
  });

  test('a past deadline under an already-cancelled parent keeps the parent err', () => {
    const [p, cancel] = withCancel(background());
    cancel();
    const [c] = withDeadline(p, Date.now() - 10);
    assert.ok(c.err instanceof CanceledError);
  });

  test('past deadlines under an expired parent take the parent cause', () => {
    const why = new Error('why');
    const [p] = withTimeoutCause(background(), 0, why);
    const [c] = withDeadlineCause(p, Date.now() - 10, new Error('mine'));
    assert.ok(c.err instanceof DeadlineExceededError);
    assert.equal(cause(c), why);
  });

  test("a later-than-parent deadline is just withCancel: the parent's cause, not its own", async () => {
    const why = new Error('parent');
    const [p] = withTimeoutCause(background(), 20, why);
    const [c] = withDeadlineCause(p, Date.now() + 60_000, new Error('mine'));
    await waitDone(c);
    assert.ok(c.err instanceof DeadlineExceededError);
    assert.equal(cause(c), why);
  });

  test('an earlier child deadline uses its own cause', async () => {
    const mine = new Error('mine');
    const [p, cancel] = withTimeout(background(), 60_000);
    const [c] = withTimeoutCause(p, 20, mine);
    await waitDone(c);
    assert.equal(cause(c), mine);
    cancel();
  });

  test('fromSignal keeps the abort reason as the cause and the parent deadline', async () => {
    const ac = new AbortController();
    const [p, cancel] = withTimeout(background(), 60_000);
    const [ctx] = fromSignal(p, ac.signal);
    assert.equal(ctx.deadline, p.deadline);
    const why = new Error('why');
    ac.abort(why);
    await turn();
    assert.equal(cause(ctx), why);
    cancel();
  });

  test('afterFunc registered from inside an afterFunc callback on the same context runs', async () => {
    const [ctx, cancel] = withCancel(background());
    let n = 0;
    afterFunc(ctx, () => afterFunc(ctx, () => n++));
    cancel();
    await delay(5);
    assert.equal(n, 1);
  });

  test('ctx.value with a key not made by createKey is rejected', async () => {
    await expectInvalid(() => background().value({ name: 'x' } as unknown as Key<number>), 'value fake key');
  });

  test('abortable rejects a non-promise and accepts a thenable', async () => {
    await expectInvalid(() => abortable(background(), 5 as unknown as Promise<number>), 'abortable 5');
    const thenable = {
      // biome-ignore lint/suspicious/noThenProperty: a thenable is the point of this test
      then(r: (v: number) => void) {
        r(7);
      },
    };
    assert.equal(await abortable(background(), thenable as unknown as Promise<number>), 7);
  });

  test('keep-alive ends when the operation completes, and follows an ancestor deadline', () => {
    const run = (script: string) => {
      const t = Date.now();
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        encoding: 'utf8',
        timeout: 15_000,
      });
      return { ...r, ms: Date.now() - t };
    };
    const done = run(
      "import { withTimeout, background, sleep } from 'leashjs'; const [c] = withTimeout(background(), 20000); await sleep(c, 30); console.log('slept');",
    );
    assert.equal(done.stdout.trim(), 'slept', done.stderr);
    assert.ok(done.ms < 8000, `process lingered ${done.ms} ms after sleep finished`);
    const anc = run(
      "import { withTimeout, withCancel, background, sleep } from 'leashjs'; const [p] = withTimeout(background(), 150); const [c] = withCancel(p); sleep(c, 60000).catch((e) => console.log(e.name));",
    );
    assert.equal(anc.stdout.trim(), 'TimeoutError', anc.stderr);
    const ab = run(
      "import { withTimeout, background, abortable } from 'leashjs'; const [c] = withTimeout(background(), 150); abortable(c, new Promise(() => {})).catch((e) => console.log(e.name));",
    );
    assert.equal(ab.stdout.trim(), 'TimeoutError', ab.stderr);
  });
});

describe('property: random trees', () => {
  test('done iff it or an ancestor was cancelled; the first cancellation wins; causes follow the rule', () => {
    type Kind = 'cancel' | 'value' | 'without' | 'timeout';
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            parent: fc.nat(),
            kind: fc.constantFrom<Kind>('cancel', 'value', 'without', 'timeout'),
          }),
          {
            minLength: 1,
            maxLength: 25,
          },
        ),
        fc.array(fc.record({ node: fc.nat(), withCause: fc.boolean() }), { maxLength: 30 }),
        (shape, cancels) => {
          const k = createKey<number>('i');
          const ctxs: Context[] = [];
          const parents: number[] = [];
          const kinds: Kind[] = [];
          const cancelFns: Array<((c?: unknown) => void) | undefined> = [];
          shape.forEach((n, i) => {
            const p = i === 0 ? -1 : n.parent % i;
            const base = p < 0 ? background() : (ctxs[p] as Context);
            parents.push(p);
            kinds.push(n.kind);
            if (n.kind === 'cancel') {
              const [c, f] = withCancelCause(base);
              ctxs.push(c);
              cancelFns.push(f);
            } else if (n.kind === 'timeout') {
              const [c, f] = withTimeout(base, 60_000);
              ctxs.push(c);
              cancelFns.push(() => f());
            } else if (n.kind === 'value') {
              ctxs.push(withValue(base, k, i));
              cancelFns.push(undefined);
            } else {
              ctxs.push(withoutCancel(base));
              cancelFns.push(undefined);
            }
          });
          // model: the first cancel event reaching each node (stopping at withoutCancel) wins
          const first: Array<{ cause: unknown } | undefined> = ctxs.map(() => undefined);
          const reaches = (from: number, to: number): boolean => {
            for (let n = to; n >= 0; n = parents[n] as number) {
              if (n === from) return true;
              if (kinds[n] === 'without') return false;
            }
            return false;
          };
          cancels.forEach((ev, t) => {
            const node = ev.node % ctxs.length;
            const f = cancelFns[node];
            if (!f) return;
            const why = ev.withCause && kinds[node] === 'cancel' ? new Error(`c${t}`) : undefined;
            f(why);
            for (let i = 0; i < ctxs.length; i++)
              if (!first[i] && reaches(node, i)) first[i] = { cause: why };
          });
          ctxs.forEach((ctx, i) => {
            const m = first[i];
            if (!m) {
              assert.equal(errOf(ctx), undefined, `node ${i} should be live`);
              assert.equal(cause(ctx), undefined);
            } else {
              assert.ok(ctx.err instanceof CanceledError, `node ${i} should be cancelled`);
              assert.equal(cause(ctx), m.cause ?? ctx.err, `node ${i} cause`);
            }
            let want: number | undefined;
            for (let n = i; n >= 0; n = parents[n] as number)
              if (kinds[n] === 'value') {
                want = n;
                break;
              }
            assert.equal(ctx.value(k), want, `node ${i} value`);
          });
          for (const f of cancelFns) f?.();
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('custom parents: memory', () => {
  test('children derived from a foreign context and cancelled first retain nothing', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    const foreign = makeForeign();
    const run = (n: number) => {
      for (let i = 0; i < n; i++) withCancel(foreign.ctx)[1]();
    };
    run(200_000);
    await turn();
    gc?.();
    const before = process.memoryUsage().heapUsed;
    run(200_000);
    await turn();
    gc?.();
    const grown = process.memoryUsage().heapUsed - before;
    if (gc) assert.ok(grown < 1_000_000, `heap grew ${grown} bytes`);
  });
});

describe('more edge cases', () => {
  test('fromSignal under an already-cancelled parent is done and adds no listener', async () => {
    const ac = new AbortController();
    const [p, cancel] = withCancel(background());
    cancel();
    const [c] = fromSignal(p, ac.signal);
    assert.ok(c.err instanceof CanceledError);
    await turn();
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
  });

  test('a CancelCauseFunc is Disposable too (no cause: cause is err)', () => {
    let ctx: Context | undefined;
    {
      const [c, f] = withCancelCause(background());
      ctx = c;
      using _f = f;
    }
    assert.ok(ctx.err instanceof CanceledError);
    assert.equal(cause(ctx), ctx.err);
  });

  test('a late rejection of a promise that lost to its context is not an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const on = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', on);
    try {
      const [ctx, cancel] = withCancel(background());
      const p = new Promise((_, reject) => setTimeout(() => reject(new Error('late')), 10));
      const a = abortable(ctx, p);
      cancel();
      await assert.rejects(a, (e) => e === ctx.err);
      await delay(30);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', on);
    }
  });

  test('live deadlines made in time order create one Node timer (counted in a child process)', () => {
    const script = `
      import timers from 'node:timers';
      import { syncBuiltinESMExports } from 'node:module';
      let calls = 0;
      const wrap = (f) => function (...a) { calls++; return f.apply(this, a); };
      globalThis.setTimeout = wrap(globalThis.setTimeout);
      globalThis.setInterval = wrap(globalThis.setInterval);
      timers.setTimeout = wrap(timers.setTimeout);
      timers.setInterval = wrap(timers.setInterval);
      syncBuiltinESMExports();
      const { withTimeout, background } = await import('leashjs');
      const cancels = [];
      for (let i = 0; i < 10000; i++) cancels.push(withTimeout(background(), 60000 + i)[1]);
      console.log(calls);
      for (const c of cancels) c();`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 15_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Number(r.stdout.trim()) <= 2, `setTimeout called ${r.stdout.trim()} times for 10k deadlines`);
  });
});
