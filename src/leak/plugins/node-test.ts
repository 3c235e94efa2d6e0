// leashjs/leak/node-test: node:test's test() and it() that fail the test that leaked.
//
// One-line setup: import { test } from 'leashjs/leak/node-test' instead of from 'node:test'.
import * as nodeTest from 'node:test';
import { checkedRun, ensureTracking } from './checked-test.js';

export { after, afterEach, before, beforeEach, describe, mock, suite } from 'node:test';
export { configureLeakCheck, type LeakCheckOptions } from './checked-test.js';

ensureTracking();

type TestFn = (t: nodeTest.TestContext) => unknown;
type TestOptions = nodeTest.TestOptions;
type Args = [string | TestOptions | TestFn | undefined, (TestOptions | TestFn)?, TestFn?];

// node:test accepts test(fn), test(name, fn), test(options, fn) and test(name, options, fn).
function split(args: Args): {
  name: string | undefined;
  options: TestOptions | undefined;
  fn: TestFn | undefined;
} {
  let [a, b, c] = args;
  let name: string | undefined;
  if (typeof a === 'string') name = a;
  else [c, b, a] = [b as TestFn | undefined, a as TestOptions | undefined, undefined];
  if (typeof b === 'function') [c, b] = [b, undefined];
  const fn = (typeof c === 'function' ? c : undefined) as TestFn | undefined;
  return { name: name ?? fn?.name ?? '<anonymous>', options: b as TestOptions | undefined, fn };
}

type Runner = (name: string | undefined, options: TestOptions, fn: TestFn | undefined) => Promise<void>;

function wrap(original: unknown): (...args: Args) => Promise<void> {
  const run = original as Runner;
  return (...args: Args) => {
    const { name, options, fn } = split(args);
    // A callback-style test (t, done) is run as is: its end is not a promise leash can wait on.
    const checked =
      fn === undefined || fn.length >= 2 ? fn : (t: nodeTest.TestContext) => checkedRun(name!, () => fn(t));
    return run(name, options ?? {}, checked);
  };
}

/**
 * test is node:test's test() with a leak check: the test body runs under its own label and fails
 * with a LeakError (listing every timer, socket, server, promise, listener or task it left behind,
 * grouped by creation stack) when that work is still alive 2 s after the body finished (see
 * configureLeakCheck). Tests that run concurrently are each checked for their own work only.
 * Callback-style tests `(t, done)` are not checked. `test.only`, `test.skip` and `test.todo` work
 * as in node:test.
 *
 * @example
 * import { test } from 'leashjs/leak/node-test';
 * test('handler cleans up', async () => { await handler(req); });
 */
export const test = Object.assign(wrap(nodeTest.test), {
  only: wrap(nodeTest.test.only),
  skip: wrap(nodeTest.test.skip),
  todo: wrap(nodeTest.test.todo),
});

/** it is test (node:test's alias). */
export const it = test;
