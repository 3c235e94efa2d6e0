// leashjs/leak/jest: fails the Jest test that leaked.
//
// One-line setup in jest.config: setupFilesAfterEnv: ['leashjs/leak/jest'], with Jest in ESM mode
// (leash is ESM-only): node --experimental-vm-modules node_modules/jest/bin/jest.js. It wraps the
// global test() and it() (and .only, .concurrent, .concurrent.only), so tests that import them
// from @jest/globals and test.each are not checked. Callback-style (done) tests are checked once they
// call done.
import { checkedRun, ensureTracking } from './checked-test.js';

export { configureLeakCheck, type LeakCheckOptions } from './checked-test.js';

ensureTracking();

type Body = (...args: unknown[]) => unknown;
type JestTest = ((name: string, fn?: Body, timeout?: number) => unknown) & Record<string, unknown>;

function wrapFn(name: string, fn: Body | undefined): Body | undefined {
  if (typeof fn !== 'function') return fn;
  if (fn.length === 0) return () => checkedRun(name, () => fn());
  // A callback-style test `(done) => ...` is run as a promise that settles when it calls done
  // (failing with what it passes, as Jest does), so it is checked like the others.
  return () =>
    checkedRun(
      name,
      () =>
        new Promise<void>((resolve, reject) => {
          const done = (err?: unknown) => (err ? reject(err) : resolve());
          const returned = fn(done) as { then?: unknown } | undefined;
          if (returned !== null && typeof returned?.then === 'function') {
            reject(
              new Error(
                `test "${name}" takes a done callback and also returned a promise: use one or the other`,
              ),
            );
          }
        }),
    );
}

function wrapTest(original: JestTest): JestTest {
  const wrapped = ((name: string, fn?: Body, timeout?: number) =>
    original(name, wrapFn(name, fn), timeout)) as JestTest;
  for (const key of Object.keys(original)) wrapped[key] = original[key];
  for (const key of ['only', 'concurrent'] as const) {
    const sub = original[key] as JestTest | undefined;
    if (typeof sub === 'function') wrapped[key] = wrapTest(sub);
  }
  return wrapped;
}

const g = globalThis as unknown as Record<string, JestTest | undefined>;
for (const name of ['test', 'it'] as const) {
  const original = g[name];
  if (typeof original === 'function') g[name] = wrapTest(original);
}
