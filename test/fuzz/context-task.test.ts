// Property test over every public function of `leashjs` and of the task functions Group, ticker,
// after and signalContext (issue 10): whatever the arguments (fast-check's anything() plus hostile
// objects: null prototypes, throwing valueOf/getters, proxies live and revoked, AbortSignals,
// fake Dates and signals, huge numbers), a call either works or fails with an error whose `code`
// starts with LEASH_ERR_; never a raw TypeError, a crash or a hang. An error thrown by the hostile
// value's own code (a getter, a then()) may pass through as it is: it is the caller's, not leash's.
//
// Imports go through the package name, as a user's would: run `npm run build` first.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import * as leash from 'leashjs';
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
  isContext,
  isDeadlineExceeded,
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
import { after, Group, signalContext, ticker } from 'leashjs/task';
import { describeError, HostileError, hostile, isLeashOrOwn, revoked, throwingTraps } from './hostile.js';

// A value leash might be handed by mistake or by an attacker. Made fresh per run (revoked proxies,
// aborted signals) so that one run cannot change another's inputs.
function hostileValues(): unknown[] {
  const aborted = new AbortController();
  aborted.abort(new Error('gone'));
  return [
    Object.create(null),
    Object.assign(Object.create(null), { limit: Object.create(null) }),
    { valueOf: hostile, toString: hostile, [Symbol.toPrimitive]: hostile },
    new Proxy({}, throwingTraps),
    new Proxy([], throwingTraps),
    new Proxy(() => {}, throwingTraps),
    revoked({}),
    revoked([]),
    revoked(() => {}),
    new AbortController().signal,
    aborted.signal,
    Object.create(AbortSignal.prototype),
    Object.create(Date.prototype),
    new Date(Number.NaN),
    new Date(8.64e15),
    // biome-ignore lint/suspicious/noThenProperty: a thenable whose then() throws
    { then: hostile },
    // biome-ignore lint/suspicious/noThenProperty: a thenable that never settles
    { then: () => {} },
    {
      // biome-ignore lint/suspicious/noThenProperty: a thenable whose then getter throws
      get then() {
        return hostile();
      },
    },
    // Context-shaped, but every read throws.
    {
      get deadline() {
        return hostile();
      },
      get err() {
        return hostile();
      },
      get signal() {
        return hostile();
      },
      get done() {
        return hostile();
      },
      value: hostile,
    },
    // A well-formed foreign context that is already done: its err is its own, and a wait on it
    // rejects with that, as a wait on any context rejects with ctx.err.
    {
      deadline: undefined,
      err: new HostileError('the foreign context err'),
      signal: aborted.signal,
      done: Promise.resolve(),
      value: () => undefined,
    },
    { limit: 4, nmae: 'x' },
    { limit: Object.create(null) },
    { name: 42 },
    2 ** 31,
    2 ** 31 - 1,
    2 ** 53,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    Number.MIN_VALUE,
    -0,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    10n,
    Symbol('s'),
    ['SIGTERM', 'SIGKILL'],
    ['SIGSTOP'],
    ['SIGTERN'],
    ['SIGWINCH'],
    [],
    new Number(5),
    new String('SIGINT'),
  ];
}

// Contexts that end soon (or already have): a wait on them is bounded, whatever the duration.
function endingContexts(): Context[] {
  const [cancelled, cancel] = withCancel(background());
  cancel();
  const [short] = withTimeout(background(), 5);
  const [expired] = withTimeout(background(), 0);
  const key = createKey<number>('k');
  return [cancelled, short, expired, withValue(short, key, 1), withCancel(short)[0]];
}

// Every context, never-ending ones included: for calls that do not wait.
function anyContexts(): Context[] {
  return [...endingContexts(), background(), todo(), withoutCancel(background())];
}

const benign = [() => {}, async () => {}];

function pick<T>(xs: T[], i: number): T {
  return xs[i % xs.length] as T;
}

// fast-check inspects what it generates (to clone and print it), and a hostile value would break
// fast-check itself: so it generates a recipe, and the value is made inside the property.
type Recipe = { any: unknown } | { hostile: number } | { ctx: number } | { plain: number };
const plain = () => [0, 1, 5, 2 ** 31 + 1, 'SIGWINCH', ['SIGWINCH'], createKey('k'), ...benign];

const recipe: fc.Arbitrary<Recipe> = fc.oneof(
  { weight: 3, arbitrary: fc.anything().map((any) => ({ any })) },
  { weight: 3, arbitrary: fc.nat(1_000).map((hostile) => ({ hostile })) },
  { weight: 2, arbitrary: fc.nat(1_000).map((ctx) => ({ ctx })) },
  { weight: 1, arbitrary: fc.nat(1_000).map((plain) => ({ plain })) },
);

function make(r: Recipe, contexts: () => unknown[]): unknown {
  if ('any' in r) return r.any;
  if ('hostile' in r) return pick(hostileValues(), r.hostile);
  if ('ctx' in r) return pick(contexts(), r.ctx);
  return pick(plain(), r.plain);
}

const args = (n: number) => fc.array(recipe, { maxLength: n });

// Calls `fn`, settles a returned promise within `boundMs`, and cleans up what the call made (a
// cancel function, an iterator, a group), so that nothing outlives the run.
async function check(name: string, fn: () => unknown, boundMs = 20): Promise<void> {
  let result: unknown;
  try {
    result = fn();
  } catch (e) {
    assert.ok(isLeashOrOwn(e), `${name} threw ${describeError(e)}`);
    return;
  }
  await cleanUp(name, result, boundMs);
}

async function settle(name: string, p: PromiseLike<unknown>, boundMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, boundMs);
  });
  try {
    await Promise.race([p, bound]);
  } catch (e) {
    assert.ok(isLeashOrOwn(e), `${name} rejected with ${describeError(e)}`);
  } finally {
    clearTimeout(timer);
  }
}

async function cleanUp(name: string, result: unknown, boundMs: number): Promise<void> {
  if (result instanceof Promise) {
    await settle(name, result, boundMs);
    return;
  }
  if (Array.isArray(result) && typeof result[1] === 'function') {
    (result[1] as () => void)();
    return;
  }
  if (result instanceof Group) {
    await settle(`${name} wait()`, result[Symbol.asyncDispose](), boundMs);
    return;
  }
  if (result !== null && typeof result === 'object' && Symbol.asyncIterator in result) {
    const it = (result as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    await settle(`${name} next()`, it.next(), boundMs);
    await settle(`${name} return()`, it.return?.() ?? Promise.resolve(), boundMs);
  }
}

function guarded(fn: Function): () => void {
  return () => {
    try {
      fn();
    } catch {
      // thrown by the argument itself, which afterFunc's contract lets through
    }
  };
}

// A task's fn that throws when called (a revoked function proxy does) fails its task with its own
// error, which wait() returns, as errgroup's Wait does: that error is the argument's, not leash's.
function ownTask(fn: unknown): unknown {
  if (typeof fn !== 'function') return fn;
  return (...a: unknown[]) => {
    try {
      return (fn as (...a: unknown[]) => unknown)(...a);
    } catch (e) {
      throw isLeashOrOwn(e) ? e : new HostileError('thrown by the argument itself', { cause: e });
    }
  };
}

const calls: [string, number, (...a: unknown[]) => unknown, 'any' | 'ending'][] = [
  ['abortable', 2, abortable as never, 'ending'],
  // afterFunc lets an exception thrown by fn reach uncaughtException, by contract (Go's AfterFunc
  // panics likewise): a hostile fn (a revoked function proxy) is called inside a guard here, so
  // that what escapes is only ever leash's own.
  [
    'afterFunc',
    2,
    (ctx, fn) => afterFunc(ctx as never, typeof fn === 'function' ? guarded(fn) : (fn as never)),
    'any',
  ],
  ['background', 1, background as never, 'any'],
  ['todo', 1, todo as never, 'any'],
  ['isContext', 1, isContext as never, 'any'],
  ['cause', 1, cause as never, 'any'],
  ['new CanceledError', 2, (...a) => new CanceledError(...(a as [])), 'any'],
  ['new DeadlineExceededError', 2, (...a) => new DeadlineExceededError(...(a as [])), 'any'],
  ['isCanceled', 1, isCanceled, 'any'],
  ['isDeadlineExceeded', 1, isDeadlineExceeded, 'any'],
  ['fromSignal', 2, fromSignal as never, 'any'],
  ['createKey', 1, createKey as never, 'any'],
  ['sleep', 2, sleep as never, 'ending'],
  ['withCancel', 1, withCancel as never, 'any'],
  ['withCancelCause', 1, withCancelCause as never, 'any'],
  ['remaining', 1, remaining as never, 'any'],
  ['withDeadline', 2, withDeadline as never, 'any'],
  ['withDeadlineCause', 3, withDeadlineCause as never, 'any'],
  ['withTimeout', 2, withTimeout as never, 'any'],
  ['withTimeoutCause', 3, withTimeoutCause as never, 'any'],
  ['withValue', 3, withValue as never, 'any'],
  ['withoutCancel', 1, withoutCancel as never, 'any'],
  [
    'ctx.value',
    1,
    (k) => {
      for (const c of anyContexts()) c.value(k as never);
    },
    'any',
  ],
  ['new Group', 2, (...a) => new Group(...(a as [Context])), 'ending'],
  [
    'Group.go + wait',
    3,
    (opts, fn, goOpts) => {
      const g = new Group(endingContexts()[1] as Context, opts as never);
      g.go(ownTask(fn) as never, goOpts as never);
      return g;
    },
    'ending',
  ],
  [
    'Group.tryGo + wait',
    3,
    (opts, fn, goOpts) => {
      const g = new Group(endingContexts()[1] as Context, opts as never);
      g.tryGo(ownTask(fn) as never, goOpts as never);
      return g;
    },
    'ending',
  ],
  ['ticker', 2, ticker as never, 'ending'],
  ['after', 2, after as never, 'ending'],
  ['signalContext', 2, signalContext as never, 'ending'],
];

test('every public function of leashjs is in the fuzzed list', () => {
  const fuzzed = new Set(calls.map(([name]) => name.replace(/^new /, '')));
  for (const [name, v] of Object.entries(leash)) {
    if (typeof v === 'function') assert.ok(fuzzed.has(name), `${name} is not fuzzed`);
  }
});

for (const [name, arity, fn, kind] of calls) {
  test(`${name}: any arguments work or fail with LEASH_ERR_*`, async () => {
    const contexts = kind === 'any' ? anyContexts : endingContexts;
    await fc.assert(
      fc.asyncProperty(args(arity), async (recipes) => {
        const a = recipes.map((r) => make(r, contexts));
        await check(name, () => fn(...a));
      }),
      { numRuns: kind === 'any' ? 300 : 120 },
    );
  });
}

const signals = ['SIGTERM', 'SIGINT', 'SIGWINCH', 'SIGHUP'] as const;
const listenersBefore = signals.map((s) => process.listenerCount(s));

test('nothing escaped: no uncaught exception or unhandled rejection, no signal listener left', async () => {
  // Let the contexts made above reach their deadlines and the groups settle.
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(
    signals.map((s) => process.listenerCount(s)),
    listenersBefore,
    'signal listeners left behind',
  );
  assert.deepEqual(escaped, []);
});

const escaped: string[] = [];
process.on('uncaughtException', (e) => escaped.push(`uncaught ${describeError(e)}`));
process.on('unhandledRejection', (e) => {
  // A task of a group that failed is the group's to report; anything else is a leak of an error.
  escaped.push(`unhandled ${describeError(e)}`);
});
