// Property test over every public function of `leashjs/leak` (issue 10): whatever the arguments
// (fast-check's anything() plus hostile objects: null prototypes, throwing getters and valueOf,
// proxies live and revoked, huge numbers, fake requests and responses), a call either works or
// fails with an error whose `code` starts with LEASH_ERR_; never a raw TypeError, a crash or a
// hang. An error thrown by the hostile value's own code (a getter, a trap) may pass through: it is
// the caller's, not leash's. A callback the caller hands to withLabel runs as the caller's code.
//
// Imports go through the package name, as a user's would: run `npm run build` first.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  counts,
  debugHandler,
  LeakError,
  profile,
  snapshot,
  startTrace,
  startTracking,
  stopTracking,
  trackingMode,
  verifyNone,
  withLabel,
} from 'leashjs/leak';
import { describeError, HostileError, hostile, isLeashOrOwn, revoked, throwingTraps } from './hostile.js';

// A response that records what it was asked to do, and a request for each path the handler serves.
function fakeRes(): object {
  return { writeHead: () => {}, end: () => {}, once: () => {}, destroyed: false };
}

function hostileValues(): unknown[] {
  return [
    Object.create(null),
    { valueOf: hostile, toString: hostile, [Symbol.toPrimitive]: hostile },
    new Proxy({}, throwingTraps),
    new Proxy([], throwingTraps),
    revoked({}),
    revoked([]),
    revoked(() => {}),
    [null],
    [42],
    [{ kind: 'task' }],
    [Object.create(null)],
    { timeoutMs: Object.create(null) },
    { timeoutMs: '10' },
    { timeout: 10 },
    { baseline: { recordId: 1 } },
    { baseline: Object.create(null) },
    { ignore: 'x' },
    { ignore: [null] },
    { ignore: [{ type: 1 }] },
    { ignore: [revoked({})] },
    { ignore: [{ topFrame: 'x', creator: 'y' }] },
    { label: 42 },
    { mode: 'fast' },
    { mode: 'debug', sampleEvery: 0.5 },
    { mode: 'debug', sampleEvery: Object.create(null) },
    { debug: 3 },
    { format: 'xml' },
    { maxEvents: 2 ** 40 },
    { maxEvents: -1 },
    { prefix: 'debug' },
    { prefix: '/a?b' },
    { maxTraceSeconds: Number.POSITIVE_INFINITY },
    { maxConcurrentTraces: 0 },
    { url: '/debug/leash/tasks', method: 'GET' },
    { url: '/debug/leash/trace?seconds=abc', method: 'GET' },
    { url: 'http://[', method: 'GET' },
    { url: 42, method: 'GET' },
    { url: '/debug/leash/tasks?debug=2&format=json', method: 'GET' },
    fakeRes(),
    '',
    'x',
    2 ** 31,
    2 ** 53,
    -0,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    10n,
    Symbol('s'),
    new Number(5),
    new String('full'),
  ];
}

type Recipe = { any: unknown } | { hostile: number };
const recipe: fc.Arbitrary<Recipe> = fc.oneof(
  { weight: 2, arbitrary: fc.anything().map((any) => ({ any })) },
  { weight: 3, arbitrary: fc.nat(1_000).map((hostile) => ({ hostile })) },
);

function make(r: Recipe): unknown {
  if ('any' in r) return r.any;
  const values = hostileValues();
  return values[r.hostile % values.length];
}

const BOUND_MS = 3000;

// ownNext passes a non-function through untouched (the handler must reject it) and wraps a
// function so that an exception it throws is recognisably the argument's own.
function ownNext(next: unknown): unknown {
  if (typeof next !== 'function') return next;
  return (...args: unknown[]) => {
    try {
      return Reflect.apply(next, undefined, args);
    } catch (e) {
      throw e instanceof HostileError ? e : Object.assign(new HostileError('next threw'), { cause: e });
    }
  };
}

// Calls `fn`; a returned promise must settle within BOUND_MS (verifyNone's default wait is 2 s)
// with a value or a LEASH_ERR_ error.
async function check(name: string, fn: () => unknown): Promise<void> {
  let result: unknown;
  try {
    result = fn();
  } catch (e) {
    assert.ok(isLeashOrOwn(e), `${name} threw ${describeError(e)}`);
    return;
  }
  if (result instanceof Promise) {
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      result.then(
        () => 'ok',
        (e: unknown) => e,
      ),
      new Promise((resolve) => {
        timer = setTimeout(() => resolve('hang'), BOUND_MS);
      }),
    ]);
    clearTimeout(timer);
    assert.notEqual(outcome, 'hang', `${name} did not settle within ${BOUND_MS} ms`);
    if (outcome !== 'ok') assert.ok(isLeashOrOwn(outcome), `${name} rejected with ${describeError(outcome)}`);
  }
  if (result !== null && typeof result === 'object' && 'stop' in result) (result as { stop(): void }).stop();
}

test('every public function of leashjs/leak: only LEASH_ERR_* errors, never a crash or a hang', async () => {
  const base = snapshot();
  const handler = debugHandler({ maxTraceSeconds: 0.01 });
  const calls: Record<string, (a: unknown[]) => unknown> = {
    verifyNone: (a) => verifyNone(a[0] as never),
    'verifyNone with a baseline': (a) => {
      let opts: object;
      try {
        opts = { baseline: base, timeoutMs: 0, ...(a[0] as object) };
      } catch (e) {
        throw new HostileError(`spreading the argument threw: ${String(e)}`); // the test's own spread
      }
      return verifyNone(opts);
    },
    snapshot: () => snapshot(),
    withLabel: (a) => {
      const fn = a[1];
      // The callback is the caller's code: what it throws is its own.
      try {
        return withLabel(a[0] as never, typeof fn === 'function' ? () => 'ran' : (fn as never));
      } catch (e) {
        if (typeof fn === 'function' && !isLeashOrOwn(e)) throw new HostileError(String(e));
        throw e;
      }
    },
    startTracking: (a) => startTracking(a[0] as never),
    stopTracking: () => stopTracking(),
    trackingMode: () => trackingMode(),
    counts: () => counts(),
    profile: (a) => profile(a[0] as never),
    startTrace: (a) => startTrace(a[0] as never),
    debugHandler: (a) => debugHandler(a[0] as never),
    // Whatever `next` throws when the handler calls it (a revoked function proxy throws a TypeError)
    // is the caller's own error passing through, as in Express: marked as the argument's own.
    'debugHandler()(req, res, next)': (a) => handler(a[0] as never, a[1] as never, ownNext(a[2]) as never),
    'new LeakError': (a) => new LeakError(a[0] as never, a[1] as never),
  };
  const names = Object.keys(calls);
  try {
    await fc.assert(
      fc.asyncProperty(fc.nat(names.length - 1), fc.array(recipe, { maxLength: 3 }), async (i, recipes) => {
        const name = names[i]!;
        await check(name, () => calls[name]!(recipes.map(make)));
      }),
      { numRuns: 400 },
    );
  } finally {
    startTracking({ mode: 'full' });
  }
  // The tracker still works after all that.
  const after = snapshot();
  const t = setInterval(() => {}, 1000);
  await assert.rejects(verifyNone({ baseline: after, timeoutMs: 20 }), LeakError);
  clearInterval(t);
});
