// leashjs/leak/vitest: fails the Vitest test that leaked.
//
// One-line setup in vitest.config: test: { setupFiles: ['leashjs/leak/vitest'] }. Needs Vitest 4.1+
// (aroundEach). Works with test.concurrent: every test body runs under its own label.
import { aroundEach } from 'vitest';
import { checkedRun, ensureTracking } from './checked-test.js';

export { configureLeakCheck, type LeakCheckOptions } from './checked-test.js';

ensureTracking();

aroundEach(async (runTest, context) => {
  await checkedRun(context.task.name, runTest);
});
