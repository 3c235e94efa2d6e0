// Report noise (issue 8): one mistake is one item in one group, named by the user's line; what
// leash creates for itself is never blamed on the user.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { background, withCancel, withTimeout } from '../context/index.js';
import { Channel, go } from '../task/index.js';
import { LeakError } from './leak-error.js';
import { profile } from './profile.js';
import { snapshot } from './snapshot.js';
import { verifyNone } from './verify-none.js';

const here = 'src/leak/fold-leaks.test.ts';

function lineOf(marker: string): number {
  const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  return lines.findIndex((l) => l.includes(marker) && !l.includes('lineOf(')) + 1;
}

async function leakError(p: Promise<void>): Promise<LeakError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof LeakError, `expected a LeakError, got ${String(err)}`);
  return err;
}

test('one `await new Promise(() => {})` is one item in one group, at the await line', async () => {
  const base = snapshot();
  async function handle(): Promise<void> {
    await new Promise<void>(() => {}); // FOREVER
  }
  void handle();
  const err = await leakError(verifyNone({ baseline: base, timeoutMs: 300 }));
  assert.equal(err.groups.length, 1, err.message);
  assert.equal(err.leaks.length, 1, err.message);
  assert.equal(err.groups[0]!.site.replace(/:\d+$/, ''), `${here}:${lineOf('FOREVER')}`);
});

test('a task blocked on a channel is one group, the task first, at the line where it is blocked', async () => {
  const [ctx, cancel] = withCancel(background());
  const ch = new Channel<number>();
  const base = snapshot();
  const task = go(ctx, async function consumer(ctx) {
    await ch.recv(ctx); // BLOCKED-LINE
  });
  const err = await leakError(verifyNone({ baseline: base, timeoutMs: 100 }));
  cancel();
  await task.done.catch(() => {});
  assert.equal(err.groups.length, 1, err.message);
  assert.equal(err.leaks.length, 1, err.message);
  assert.equal(err.groups[0]!.kind, 'task');
  assert.equal(err.groups[0]!.state, 'chan receive');
  assert.equal(err.groups[0]!.site.replace(/:\d+$/, ''), `${here}:${lineOf('BLOCKED-LINE')}`);
  // The go() call is below it, as a goroutine dump's "created by".
  assert.ok(
    err.groups[0]!.stack.some((f) => f.includes(`${here}:${lineOf('BLOCKED-LINE') - 1}:`)),
    err.message,
  );
  assert.doesNotMatch(err.message, /go\.name|<internal>/);
  await verifyNone({ baseline: base });
});

test('continuations made elsewhere stay their own leak (Promise.race on a long-lived promise)', async () => {
  let stop: (() => void) | undefined;
  const shutdown = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const base = snapshot();
  for (let i = 0; i < 5; i++) await Promise.race([Promise.resolve(i), shutdown]); // RACE-LINE
  const err = await leakError(verifyNone({ baseline: base, timeoutMs: 50 }));
  stop!();
  assert.ok(
    err.groups.some((g) => g.site.replace(/:\d+$/, '') === `${here}:${lineOf('RACE-LINE')}` && g.count >= 5),
    err.message,
  );
});

test("leash's keep-alive and deadline timers are never blamed on the user's line", async () => {
  const base = snapshot();
  const ch = new Channel<number>();
  const [ctx, cancel] = withTimeout(background(), 10_000);
  const pending = ch.recv(ctx).catch(() => {}); // RECV-LINE
  const text = profile({ debug: 2 });
  assert.doesNotMatch(text, /resource \d+ (Interval|Timeout)/, text);
  const err = await leakError(verifyNone({ baseline: base, timeoutMs: 50 }));
  assert.ok(
    err.leaks.every((l) => l.kind !== 'resource'),
    err.message,
  );
  cancel();
  await pending;
  await verifyNone({ baseline: base });
});

test("a user-created unref'd interval is still reported", async () => {
  const base = snapshot();
  const timer = setInterval(() => {}, 1000).unref(); // UNREF-LINE
  const err = await leakError(verifyNone({ baseline: base, timeoutMs: 50 }));
  clearInterval(timer);
  assert.equal(err.leaks.length, 1, err.message);
  assert.equal(err.leaks[0]!.state, 'active (unref)');
  assert.equal(err.leaks[0]!.site.replace(/:\d+$/, ''), `${here}:${lineOf('UNREF-LINE')}`);
});
