// Port of Go's TestCause table (context/x_test.go), plus the afterFunc/foreign cases.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  background,
  CanceledError,
  type Context,
  cause,
  DeadlineExceededError,
  todo,
  withCancel,
  withCancelCause,
  withoutCancel,
  withTimeout,
  withTimeoutCause,
} from './index.js';

const forever = 1e9;
const parentCause = new Error('parentCause');
const childCause = new Error('childCause');
const tooSlow = new Error('tooSlow');
const finishedEarly = new Error('finishedEarly');

type Want = 'Canceled' | 'DeadlineExceeded' | undefined;

const table: { name: string; ctx: () => Context; err: Want; cause: Want | Error }[] = [
  { name: 'Background', ctx: background, err: undefined, cause: undefined },
  { name: 'TODO', ctx: todo, err: undefined, cause: undefined },
  {
    name: 'WithCancel',
    ctx: () => {
      const [ctx, cancel] = withCancel(background());
      cancel();
      return ctx;
    },
    err: 'Canceled',
    cause: 'Canceled',
  },
  {
    name: 'WithCancelCause',
    ctx: () => {
      const [ctx, cancel] = withCancelCause(background());
      cancel(parentCause);
      return ctx;
    },
    err: 'Canceled',
    cause: parentCause,
  },
  {
    name: 'WithCancelCause nil',
    ctx: () => {
      const [ctx, cancel] = withCancelCause(background());
      cancel(undefined);
      return ctx;
    },
    err: 'Canceled',
    cause: 'Canceled',
  },
  {
    name: 'WithCancelCause: parent cause before child',
    ctx: () => {
      const [p, cancelParent] = withCancelCause(background());
      const [ctx, cancelChild] = withCancelCause(p);
      cancelParent(parentCause);
      cancelChild(childCause);
      return ctx;
    },
    err: 'Canceled',
    cause: parentCause,
  },
  {
    name: 'WithCancelCause: parent cause after child',
    ctx: () => {
      const [p, cancelParent] = withCancelCause(background());
      const [ctx, cancelChild] = withCancelCause(p);
      cancelChild(childCause);
      cancelParent(parentCause);
      return ctx;
    },
    err: 'Canceled',
    cause: childCause,
  },
  {
    name: 'WithCancelCause: parent cause before nil',
    ctx: () => {
      const [p, cancelParent] = withCancelCause(background());
      const [ctx, cancelChild] = withCancel(p);
      cancelParent(parentCause);
      cancelChild();
      return ctx;
    },
    err: 'Canceled',
    cause: parentCause,
  },
  {
    name: 'WithCancelCause: parent cause after nil',
    ctx: () => {
      const [p, cancelParent] = withCancelCause(background());
      const [ctx, cancelChild] = withCancel(p);
      cancelChild();
      cancelParent(parentCause);
      return ctx;
    },
    err: 'Canceled',
    cause: 'Canceled',
  },
  {
    name: 'WithCancelCause: child cause after nil',
    ctx: () => {
      const [p, cancelParent] = withCancel(background());
      const [ctx, cancelChild] = withCancelCause(p);
      cancelParent();
      cancelChild(childCause);
      return ctx;
    },
    err: 'Canceled',
    cause: 'Canceled',
  },
  {
    name: 'WithCancelCause: child cause before nil',
    ctx: () => {
      const [p, cancelParent] = withCancel(background());
      const [ctx, cancelChild] = withCancelCause(p);
      cancelChild(childCause);
      cancelParent();
      return ctx;
    },
    err: 'Canceled',
    cause: childCause,
  },
  {
    name: 'WithTimeout',
    ctx: () => {
      const [ctx, cancel] = withTimeout(background(), 0);
      cancel();
      return ctx;
    },
    err: 'DeadlineExceeded',
    cause: 'DeadlineExceeded',
  },
  {
    name: 'WithTimeout canceled',
    ctx: () => {
      const [ctx, cancel] = withTimeout(background(), forever);
      cancel();
      return ctx;
    },
    err: 'Canceled',
    cause: 'Canceled',
  },
  {
    name: 'WithTimeoutCause',
    ctx: () => {
      const [ctx, cancel] = withTimeoutCause(background(), 0, tooSlow);
      cancel();
      return ctx;
    },
    err: 'DeadlineExceeded',
    cause: tooSlow,
  },
  {
    name: 'WithTimeoutCause canceled',
    ctx: () => {
      const [ctx, cancel] = withTimeoutCause(background(), forever, tooSlow);
      cancel();
      return ctx;
    },
    err: 'Canceled',
    cause: 'Canceled',
  },
  {
    name: 'WithTimeoutCause stacked',
    ctx: () => {
      const [p, cancel] = withCancelCause(background());
      const [ctx] = withTimeoutCause(p, 0, tooSlow);
      cancel(finishedEarly);
      return ctx;
    },
    err: 'DeadlineExceeded',
    cause: tooSlow,
  },
  {
    name: 'WithTimeoutCause stacked canceled',
    ctx: () => {
      const [p, cancel] = withCancelCause(background());
      const [ctx] = withTimeoutCause(p, forever, tooSlow);
      cancel(finishedEarly);
      return ctx;
    },
    err: 'Canceled',
    cause: finishedEarly,
  },
  { name: 'WithoutCancel', ctx: () => withoutCancel(background()), err: undefined, cause: undefined },
  {
    name: 'WithoutCancel canceled',
    ctx: () => {
      const [p, cancel] = withCancelCause(background());
      const ctx = withoutCancel(p);
      cancel(finishedEarly);
      return ctx;
    },
    err: undefined,
    cause: undefined,
  },
  {
    name: 'WithoutCancel timeout',
    ctx: () => {
      const [p, cancel] = withTimeoutCause(background(), 0, tooSlow);
      const ctx = withoutCancel(p);
      cancel();
      return ctx;
    },
    err: undefined,
    cause: undefined,
  },
];

function check(got: unknown, want: Want | Error): void {
  if (want === 'Canceled') assert.ok(got instanceof CanceledError, `want CanceledError, got ${got}`);
  else if (want === 'DeadlineExceeded')
    assert.ok(got instanceof DeadlineExceededError, `want DeadlineExceededError, got ${got}`);
  else assert.equal(got, want);
}

for (const row of table) {
  test(`TestCause: ${row.name}`, () => {
    const ctx = row.ctx();
    check(ctx.err, row.err);
    check(cause(ctx), row.cause);
    // The signal's reason is the cause, for every done context.
    if (row.err !== undefined) assert.equal(ctx.signal.reason, cause(ctx));
    else assert.equal(ctx.signal.aborted, false);
  });
}

test('a cause can be any value, including a non-Error', () => {
  const [ctx, cancel] = withCancelCause(background());
  cancel('shutting down');
  assert.equal(cause(ctx), 'shutting down');
  assert.ok(ctx.err instanceof CanceledError);
});

test('TestCauseRace analogue: cause is undefined until done, then fixed', () => {
  const [ctx, cancel] = withCancelCause(background());
  assert.equal(cause(ctx), undefined);
  cancel(parentCause);
  for (let i = 0; i < 3; i++) {
    cancel(childCause);
    assert.equal(cause(ctx), parentCause);
  }
});
