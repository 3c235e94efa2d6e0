// Acceptance tests for `leashjs/cache`, written from issue 13 and docs/cache.md. They import through
// the package name, as a user would (run `npm run build` first).
import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { test } from 'node:test';
import { background, type Context, isCanceled, withCancel, withTimeout } from 'leashjs';
import { type CacheCoalescedEvent, type CacheLoadEvent, createCache, LoadTimeoutError } from 'leashjs/cache';
import { snapshot, verifyNone } from 'leashjs/leak';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('a user lookup shared by a burst of requests: one query, every request answered, then served from memory', async () => {
  const base = snapshot();
  const users = createCache<{ id: string }>({
    name: 'users',
    maximumSize: 1000,
    ttlMs: 60_000,
    loadTimeoutMs: 5_000,
  });
  let queries = 0;
  const query = async (ctx: Context, id: string): Promise<{ id: string }> => {
    queries++;
    await tick();
    if (ctx.err) throw ctx.err;
    return { id };
  };
  const answers = await Promise.all(
    Array.from({ length: 200 }, () => users.getOrLoad(background(), 'u1', (ctx) => query(ctx, 'u1'))),
  );
  assert.equal(queries, 1);
  assert.ok(answers.every((a) => a === answers[0]));
  assert.deepEqual(users.get('u1'), { id: 'u1' });
  assert.equal(users.stats().hits, 1, 'the get above');
  await verifyNone({ baseline: base });
});

test('requests that hang up do not cancel the query for the ones still waiting; when all hang up, it is cancelled', async () => {
  const base = snapshot();
  const cache = createCache<string>({ name: 'reports', maximumSize: 10 });
  const aborted: boolean[] = [];
  let finish: (v: string) => void = () => {};
  const loader = (ctx: Context): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      let done = false;
      finish = (v) => {
        done = true;
        resolve(v);
      };
      // The loader's context is also cancelled once the load is over (it is released): count
      // only a cancellation that stops the query.
      ctx.signal.addEventListener('abort', () => {
        if (done) return;
        aborted.push(true);
        reject(ctx.err);
      });
    });
  const [r1, hangUp1] = withCancel(background());
  const [r2, hangUp2] = withCancel(background());
  const p1 = cache.getOrLoad(r1, 'q', loader);
  const p2 = cache.getOrLoad(r2, 'q', loader);
  hangUp1();
  await assert.rejects(p1, (e) => isCanceled(e));
  finish('report');
  assert.equal(await p2, 'report');
  assert.deepEqual(aborted, []);
  hangUp2();

  const [r3, hangUp3] = withCancel(background());
  const [r4, hangUp4] = withCancel(background());
  const p3 = cache.getOrLoad(r3, 'other', loader);
  const p4 = cache.getOrLoad(r4, 'other', loader);
  hangUp3();
  hangUp4();
  await assert.rejects(p3, (e) => isCanceled(e));
  await assert.rejects(p4, (e) => isCanceled(e));
  await tick();
  assert.deepEqual(aborted, [true]);
  await verifyNone({ baseline: base });
});

test('a caller deadline shorter than the load releases that caller only; loadTimeoutMs bounds the load for everyone', async () => {
  const base = snapshot();
  const cache = createCache<string>({ name: 'slow', maximumSize: 10, loadTimeoutMs: 30 });
  const [short, cancel] = withTimeout(background(), 1);
  const slow = (ctx: Context): Promise<string> =>
    new Promise<string>((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.err)));
  const hasty = cache.getOrLoad(short, 'k', slow);
  const patient = cache.getOrLoad(background(), 'k', slow);
  await assert.rejects(hasty, (e: unknown) => (e as Error).name === 'TimeoutError');
  await assert.rejects(patient, (e) => e instanceof LoadTimeoutError);
  cancel();
  await verifyNone({ baseline: base });
});

test('events: coalesced waiters and the load are published as frozen payloads', async () => {
  const cache = createCache<number>({ name: 'events', maximumSize: 10 });
  const seen: unknown[] = [];
  const onCoalesced = (m: unknown): void => {
    seen.push(m);
  };
  const onLoad = (m: unknown): void => {
    seen.push(m);
  };
  diagnostics_channel.subscribe('leash:cache:coalesced', onCoalesced);
  diagnostics_channel.subscribe('leash:cache:load', onLoad);
  try {
    await Promise.all([1, 2].map(() => cache.getOrLoad(background(), 'k', async () => 7)));
  } finally {
    diagnostics_channel.unsubscribe('leash:cache:coalesced', onCoalesced);
    diagnostics_channel.unsubscribe('leash:cache:load', onLoad);
  }
  const coalesced = seen[0] as CacheCoalescedEvent;
  const load = seen[1] as CacheLoadEvent;
  assert.deepEqual({ ...coalesced }, { name: 'events', key: 'k', waiters: 2 });
  assert.equal(load.outcome, 'ok');
  assert.equal(load.refresh, false);
  assert.ok(Object.isFrozen(coalesced) && Object.isFrozen(load));
});

test('a bounded cache never holds more than maximumSize entries, whatever the access pattern', () => {
  const cache = createCache<number>({ name: 'bounded', maximumSize: 64 });
  for (let i = 0; i < 10_000; i++) {
    const k = String(i % 3 === 0 ? (i * 7919) % 500 : i % 20); // 20 hot keys among 500
    if (cache.get(k) === undefined) cache.set(k, i);
    assert.ok(cache.stats().size <= 64);
  }
  assert.ok(cache.stats().hits > 0);
});
