// leashjs/leak/node-test: node:test's test() and it() that fail the test that leaked.
//
// One-line setup: import { test } from 'leashjs/leak/node-test' instead of from 'node:test'.
import * as nodeTest from 'node:test';
import { compileFunction } from 'node:vm';
import { checkedRun, ensureTracking } from './checked-test.js';

export { after, afterEach, before, beforeEach, describe, mock, suite } from 'node:test';
export { configureLeakCheck, type LeakCheckOptions } from './checked-test.js';

ensureTracking();

/** The `done` callback of a callback-style test: call it with nothing (or a falsy value) to pass, with an error to fail. */
export type TestDone = (result?: unknown) => void;

/**
 * TestFn is a test body: `(t) => ...` (sync or async), or callback style `(t, done) => ...`, which
 * ends when it calls `done()` (as in node:test).
 */
export type TestFn = (t: nodeTest.TestContext, done: TestDone) => unknown;

/** TestOptions are node:test's options for one test. */
export type TestOptions = nodeTest.TestOptions;

/** The signatures of node:test's test(), with leash's TestFn. */
export interface LeakCheckedTest {
  (name?: string, fn?: TestFn): Promise<void>;
  (name?: string, options?: TestOptions, fn?: TestFn): Promise<void>;
  (options?: TestOptions, fn?: TestFn): Promise<void>;
  (fn?: TestFn): Promise<void>;
}

type Args = [unknown?, unknown?, unknown?];

// node:test accepts test(fn), test(name, fn), test(options, fn) and test(name, options, fn).
function split(args: Args): {
  name: string | undefined;
  options: TestOptions | undefined;
  fn: TestFn | undefined;
} {
  const rest = [...args];
  const name = typeof rest[0] === 'string' ? (rest.shift() as string) : undefined;
  const options = typeof rest[0] === 'object' && rest[0] !== null ? (rest.shift() as TestOptions) : undefined;
  const fn = typeof rest[0] === 'function' ? (rest[0] as TestFn) : undefined;
  return { name: name ?? (fn?.name || undefined), options, fn };
}

/**
 * checked turns a test body into one whose work is checked. A callback-style body `(t, done)` is run
 * as a promise that settles when it calls `done` (failing with the value passed to `done`, as
 * node:test does), so it is checked like the others.
 */
function checked(name: string, fn: TestFn): (t: nodeTest.TestContext) => Promise<unknown> {
  if (fn.length < 2) return (t) => checkedRun(name, () => (fn as (t: nodeTest.TestContext) => unknown)(t));
  return (t) =>
    checkedRun(
      name,
      () =>
        new Promise<void>((resolve, reject) => {
          const returned = fn(t, (result?: unknown) => (result ? reject(result) : resolve()));
          if (returned !== null && typeof (returned as Promise<unknown> | undefined)?.then === 'function') {
            reject(
              new Error(
                `test "${name}" takes a done callback and also returned a promise: use one or the other`,
              ),
            );
          }
        }),
    );
}

interface CallSiteLike {
  getFileName(): string | null | undefined;
  getLineNumber(): number | null;
  getColumnNumber(): number | null;
}

/** callerOf returns the call site of whoever called `fn`. */
function callerOf(fn: (...args: never[]) => unknown): CallSiteLike | undefined {
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  try {
    Error.prepareStackTrace = (_err, sites) => sites;
    Error.stackTraceLimit = 1;
    const holder: { stack?: CallSiteLike[] } = {};
    Error.captureStackTrace(holder, fn);
    return holder.stack?.[0];
  } catch {
    return undefined;
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
}

// node:test records where test() was called from (the TAP `location:`, the file:line IDEs jump to)
// as the caller of its own test(): through a wrapper that would be this file. So the call is made
// from a one-line function compiled at the user's file, line and column, which is then what node:test
// sees as its caller. One such function per call site, cached.
const BODY = 'return t(...a)';
const CALL_AT = BODY.indexOf('t(');
const callers = new Map<string, (t: unknown, a: unknown[]) => Promise<void>>();

function callFrom(site: CallSiteLike | undefined, original: unknown, args: unknown[]): Promise<void> {
  const file = site?.getFileName();
  const line = site?.getLineNumber();
  const column = site?.getColumnNumber();
  if (!file || !line || !column) return (original as (...a: unknown[]) => Promise<void>)(...args);
  const key = `${line}:${column}:${file}`;
  let call = callers.get(key);
  if (call === undefined) {
    call = compileFunction(BODY, ['t', 'a'], {
      filename: file,
      lineOffset: line - 1,
      columnOffset: column - 1 - CALL_AT,
    }) as (t: unknown, a: unknown[]) => Promise<void>;
    callers.set(key, call);
  }
  return call(original, args);
}

function wrap(original: unknown): LeakCheckedTest {
  const wrapped = (...args: Args): Promise<void> => {
    const site = callerOf(wrapped);
    const { name, options, fn } = split(args);
    const label = name ?? '<anonymous>';
    const body = fn === undefined ? undefined : checked(label, fn);
    return callFrom(site, original, [name, options ?? {}, body]);
  };
  return wrapped as LeakCheckedTest;
}

/**
 * test is node:test's test() with a leak check: the test body runs under its own label and fails
 * with a LeakError (listing every timer, socket, server, promise, listener or task it left behind,
 * grouped by creation stack) when that work is still alive 2 s after the body finished (see
 * configureLeakCheck). Tests that run concurrently are each checked for their own work only.
 * Callback-style tests `(t, done)` are checked once they call `done`. After the report, leaked
 * handles are unref'd so the run still ends (`configureLeakCheck({ unrefLeaked: false })` keeps
 * them). `test.only`, `test.skip` and `test.todo` work as in node:test, and the reported location
 * of each test is the caller's line.
 *
 * @example
 * import { test } from 'leashjs/leak/node-test';
 * test('handler cleans up', async () => { await handler(req); });
 */
export const test: LeakCheckedTest & {
  readonly only: LeakCheckedTest;
  readonly skip: LeakCheckedTest;
  readonly todo: LeakCheckedTest;
} = Object.assign(wrap(nodeTest.test), {
  only: wrap(nodeTest.test.only),
  skip: wrap(nodeTest.test.skip),
  todo: wrap(nodeTest.test.todo),
});

/** it is test (node:test's alias). */
export const it = test;
