// getOrLoad: single-flight loads, shared cancellation, stale-while-refresh and refresh-ahead; the
// options checks of createCache.
import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { test } from 'node:test';
import {
  background,
  type Context,
  cause,
  createKey,
  isCanceled,
  isDeadlineExceeded,
  withCancel,
  withTimeout,
  withValue,
} from '../context/index.js';
import { snapshot, verifyNone } from '../leak/index.js';
import { createCacheWithClock } from './cache.js';
import { createCache, LoadAbandonedError, LoadTimeoutError } from './index.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function gate<T = void>(): { promise: Promise<T>; open: (v: T) => void; fail: (e: unknown) => void } {
  let open!: (v: T) => void;
  let fail!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    open = res;
    fail = rej;
  });
  return { promise, open, fail };
}

test('1,000 concurrent misses on one key run the loader once and all get its value', async () => {
  const base = snapshot();
  const cache = createCache<string>({ name: 'users', maximumSize: 10 });
  let calls = 0;
  const g = gate<string>();
  const all = Array.from({ length: 1000 }, () =>
    cache.getOrLoad(background(), 'k', async () => {
      calls++;
      return g.promise;
    }),
  );
  await tick();
  g.open('V');
  const values = await Promise.all(all);
  assert.equal(calls, 1);
  assert.ok(values.every((v) => v === 'V'));
  assert.equal(cache.get('k'), 'V');
  const s = cache.stats();
  assert.equal(s.loads, 1);
  assert.equal(s.coalesced, 999);
  await verifyNone({ baseline: base });
});

test('a loader abandoned by every caller is cancelled, with LoadAbandonedError as its cause, and stores nothing', async () => {
  const base = snapshot();
  const cache = createCache<string>({ name: 'c', maximumSize: 10 });
  const [a, cancelA] = withCancel(background());
  const [b, cancelB] = withCancel(background());
  let loaderCtx: Context | undefined;
  const late = gate<string>();
  const load = (ctx: Context): Promise<string> => {
    loaderCtx = ctx;
    return late.promise;
  };
  const pa = cache.getOrLoad(a, 'k', load);
  const pb = cache.getOrLoad(b, 'k', load);
  await tick();
  cancelA();
  await assert.rejects(pa, (e) => isCanceled(e));
  assert.equal(loaderCtx?.err, undefined, 'one caller left, one still waits: the load goes on');
  cancelB();
  await assert.rejects(pb, (e) => isCanceled(e));
  assert.ok(loaderCtx?.err && isCanceled(loaderCtx.err));
  assert.ok(cause(loaderCtx as Context) instanceof LoadAbandonedError);
  late.open('too late');
  await tick();
  assert.equal(cache.get('k'), undefined);
  assert.equal(cache.stats().loadsAbandoned, 1);
  // The next caller starts a fresh load.
  assert.equal(await cache.getOrLoad(background(), 'k', async () => 'fresh'), 'fresh');
  await verifyNone({ baseline: base });
});

test('a loader abandoned by some callers is not cancelled: the others get the value, and it is stored', async () => {
  const base = snapshot();
  const cache = createCache<string>({ name: 'c', maximumSize: 10 });
  const g = gate<string>();
  let loaderCtx: Context | undefined;
  const contexts = Array.from({ length: 5 }, () => withCancel(background()));
  const calls = contexts.map(([ctx]) =>
    cache.getOrLoad(ctx, 'k', (lctx) => {
      loaderCtx = lctx;
      return g.promise;
    }),
  );
  await tick();
  for (const [, cancel] of contexts.slice(0, 3)) cancel();
  const settled = Promise.allSettled(calls);
  await tick();
  assert.equal(loaderCtx?.err, undefined);
  g.open('V');
  const results = await settled;
  assert.deepEqual(
    results.map((r) => r.status),
    ['rejected', 'rejected', 'rejected', 'fulfilled', 'fulfilled'],
  );
  assert.deepEqual(
    results.slice(3).map((r) => (r as PromiseFulfilledResult<string>).value),
    ['V', 'V'],
  );
  assert.equal(cache.get('k'), 'V');
  for (const [, cancel] of contexts) cancel();
  await verifyNone({ baseline: base });
});

test("each caller's own deadline releases only that caller", async () => {
  const base = snapshot();
  const cache = createCache<string>({ name: 'c', maximumSize: 10 });
  const g = gate<string>();
  const [short, cancelShort] = withTimeout(background(), 5);
  const patient = cache.getOrLoad(background(), 'k', () => g.promise);
  const hasty = cache.getOrLoad(short, 'k', () => g.promise);
  await assert.rejects(hasty, (e) => isDeadlineExceeded(e));
  g.open('V');
  assert.equal(await patient, 'V');
  cancelShort();
  await verifyNone({ baseline: base });
});

test('a loader error reaches every waiter and nothing is stored; the next call loads again', async () => {
  const base = snapshot();
  const cache = createCache<string>({ name: 'c', maximumSize: 10 });
  const g = gate<string>();
  const boom = new Error('db down');
  const calls = Array.from({ length: 10 }, () => cache.getOrLoad(background(), 'k', () => g.promise));
  g.fail(boom);
  for (const c of calls) await assert.rejects(c, (e) => e === boom);
  assert.equal(cache.get('k'), undefined);
  assert.equal(cache.stats().loadErrors, 1);
  assert.equal(await cache.getOrLoad(background(), 'k', async () => 'ok'), 'ok');
  // A loader that throws synchronously is a rejection too.
  await assert.rejects(
    cache.getOrLoad(background(), 'sync', () => {
      throw boom;
    }),
    (e) => e === boom,
  );
  await verifyNone({ baseline: base });
});

test('loadTimeoutMs cancels the loader context and rejects every waiter with LoadTimeoutError, even if the loader ignores its ctx', async () => {
  const base = snapshot();
  const cache = createCache<string>({ name: 'c', maximumSize: 10, loadTimeoutMs: 10 });
  let loaderCtx: Context | undefined;
  const ignored = gate<string>();
  const never = (ctx: Context): Promise<string> => {
    loaderCtx = ctx;
    return ignored.promise; // ignores its ctx
  };
  const calls = [cache.getOrLoad(background(), 'k', never), cache.getOrLoad(background(), 'k', never)];
  for (const c of calls) {
    await assert.rejects(
      c,
      (e) => e instanceof LoadTimeoutError && e.code === 'LEASH_ERR_CACHE_LOAD_TIMEOUT',
    );
  }
  assert.ok(loaderCtx?.err && isDeadlineExceeded(loaderCtx.err));
  assert.equal(cache.stats().loadTimeouts, 1);
  ignored.open('late');
  await tick();
  assert.equal(cache.get('k'), undefined, 'a result after the timeout is not stored');
  await verifyNone({ baseline: base });
});

test("the loader sees the first caller's values, not its cancellation", async () => {
  const base = snapshot();
  const cache = createCache<string>({ name: 'c', maximumSize: 10 });
  const user = createKey<string>('user');
  const [ctx, cancel] = withCancel(withValue(background(), user, 'ada'));
  let seen: Context | undefined;
  const v = await cache.getOrLoad(ctx, 'k', async (lctx) => {
    seen = lctx;
    return lctx.value(user) ?? 'none';
  });
  assert.equal(v, 'ada');
  cancel();
  assert.notEqual(seen?.err, ctx.err);
  await verifyNone({ baseline: base });
});

test('a caller whose context already ended is rejected at once and starts no load', async () => {
  const cache = createCache<string>({ name: 'c', maximumSize: 10 });
  const [ctx, cancel] = withCancel(background());
  cancel();
  let calls = 0;
  await assert.rejects(
    cache.getOrLoad(ctx, 'k', async () => {
      calls++;
      return 'v';
    }),
    (e) => isCanceled(e),
  );
  assert.equal(calls, 0);
});

test('delete, set and clear during a load: the waiters get the loaded value but it is not stored over them', async () => {
  const cache = createCache<string>({ name: 'c', maximumSize: 10 });
  for (const [label, act, expected] of [
    ['delete', () => cache.delete('k'), undefined],
    ['set', () => cache.set('k', 'explicit'), 'explicit'],
    ['clear', () => cache.clear(), undefined],
    ['deleteByTag', () => cache.deleteByTag('t'), undefined],
  ] as const) {
    const g = gate<string>();
    const p = cache.getOrLoad(background(), 'k', () => g.promise, { tags: ['t'] });
    await tick();
    act();
    g.open('loaded');
    assert.equal(await p, 'loaded', label);
    assert.equal(cache.get('k'), expected, label);
    cache.delete('k');
  }
});

test('stale-while-refresh: within staleMs the old value is served at once while one refresh runs; past it, callers wait', async () => {
  const base = snapshot();
  let now = 0;
  const cache = createCacheWithClock<string>(
    { name: 'c', maximumSize: 10, ttlMs: 100, staleMs: 50 },
    () => now,
  );
  cache.set('k', 'v1');
  now = 120;
  assert.equal(cache.get('k'), undefined, 'get() never serves past the ttl');
  const g = gate<string>();
  let loads = 0;
  const loader = (): Promise<string> => {
    loads++;
    return g.promise;
  };
  assert.equal(await cache.getOrLoad(background(), 'k', loader), 'v1');
  assert.equal(await cache.getOrLoad(background(), 'k', loader), 'v1');
  assert.equal(loads, 1, 'one refresh for both');
  assert.equal(cache.stats().staleServed, 2);
  g.open('v2');
  await tick();
  assert.equal(cache.get('k'), 'v2');
  // Past ttl + staleMs: no stale value, the caller waits for the load.
  now = 120 + 100 + 50;
  assert.equal(await cache.getOrLoad(background(), 'k', async () => 'v3'), 'v3');
  await verifyNone({ baseline: base });
});

test('a failed refresh keeps the stale value until staleMs runs out, and never past it', async () => {
  const base = snapshot();
  let now = 0;
  const cache = createCacheWithClock<string>(
    { name: 'c', maximumSize: 10, ttlMs: 100, staleMs: 50 },
    () => now,
  );
  cache.set('k', 'v1');
  now = 110;
  assert.equal(await cache.getOrLoad(background(), 'k', async () => Promise.reject(new Error('down'))), 'v1');
  await tick();
  now = 140;
  assert.equal(await cache.getOrLoad(background(), 'k', async () => Promise.reject(new Error('down'))), 'v1');
  await tick();
  now = 150;
  await assert.rejects(
    cache.getOrLoad(background(), 'k', async () => Promise.reject(new Error('down'))),
    /down/,
  );
  await verifyNone({ baseline: base });
});

test('refresh-ahead: after refreshAfterMs a hit starts a reload and returns the current value; nothing is served past the hard expiry', async () => {
  const base = snapshot();
  let now = 0;
  const cache = createCacheWithClock<string>(
    { name: 'c', maximumSize: 10, ttlMs: 100, refreshAfterMs: 50 },
    () => now,
  );
  cache.set('k', 'v1');
  now = 60;
  const g = gate<string>();
  let loads = 0;
  const loader = (): Promise<string> => {
    loads++;
    return g.promise;
  };
  assert.equal(await cache.getOrLoad(background(), 'k', loader), 'v1');
  assert.equal(await cache.getOrLoad(background(), 'k', loader), 'v1');
  assert.equal(loads, 1);
  now = 100; // the refresh is still running: the hard expiry wins
  assert.equal(cache.get('k'), undefined);
  const waiting = cache.getOrLoad(background(), 'k', loader);
  assert.equal(loads, 1, 'the caller joins the running refresh');
  g.open('v2');
  assert.equal(await waiting, 'v2');
  assert.equal(cache.get('k'), 'v2');
  await verifyNone({ baseline: base });
});

test('entry ttlMs and tags: deleteByTag removes the tagged values only', () => {
  let now = 0;
  const cache = createCacheWithClock<string>({ name: 'c', maximumSize: 10, ttlMs: 1000 }, () => now);
  cache.set('a', 'A', { tags: ['user:1'] });
  cache.set('b', 'B', { tags: ['user:1', 'org:2'] });
  cache.set('c', 'C', { ttlMs: 10 });
  assert.equal(cache.deleteByTag('user:1'), 2);
  assert.equal(cache.get('a'), undefined);
  assert.equal(cache.get('b'), undefined);
  assert.equal(cache.get('c'), 'C');
  now = 10;
  assert.equal(cache.get('c'), undefined);
});

test('createCache checks its options: TypeError LEASH_ERR_INVALID_ARG with a did-you-mean', async () => {
  const bad = (o: unknown, re: RegExp): void =>
    assert.throws(
      () => createCache(o as never),
      (e: unknown) =>
        e instanceof TypeError &&
        (e as { code?: string }).code === 'LEASH_ERR_INVALID_ARG' &&
        re.test(e.message),
    );
  bad(undefined, /options are required/);
  bad({ name: 'x', maximumSize: 10, ttl: 5 }, /did you mean "ttlMs"/);
  bad({ name: 'x' }, /exactly one of maximumSize/);
  bad({ name: 'x', maximumSize: 1, maximumWeight: 1, weigh: () => 1 }, /got both/);
  bad({ name: 'x', maximumWeight: 10 }, /needs weigh/);
  bad({ name: 'x', maximumSize: 10, weigh: () => 1 }, /weigh needs maximumWeight/);
  bad({ name: '', maximumSize: 10 }, /name must be a non-empty string/);
  bad({ name: 'x', maximumSize: 0 }, /maximumSize must be an integer >= 1/);
  bad(
    { name: 'x', maximumSize: 10, ttlMs: -1 },
    /ttlMs must be a number of milliseconds > 0 \(Infinity allowed\), got the number -1$/,
  );
  bad({ name: 'x', maximumSize: 10, staleMs: '5' }, /staleMs must be/);
  const cache = createCache<string>({ name: 'x', maximumSize: 10 });
  assert.throws(() => cache.set(1 as never, 'v'), /x\.set\(key, value, opts\): key must be a string/);
  assert.throws(() => cache.set('k', 'v', { tag: ['a'] } as never), /did you mean "tags"/);
  assert.throws(() => cache.getOrLoad({} as never, 'k', async () => 'v'), /ctx must be a Context/);
  assert.throws(() => cache.getOrLoad(background(), 'k', 'loader' as never), /loader must be a function/);
  // A loader that returns no promise is found when it runs: its callers' promise rejects with the
  // same kind of error, and nothing is stored.
  await assert.rejects(cache.getOrLoad(background(), 'k', (() => 'v') as never), (e: unknown) => {
    assert.ok(e instanceof TypeError);
    assert.equal((e as { code?: string }).code, 'LEASH_ERR_INVALID_ARG');
    assert.match(
      (e as Error).message,
      /^x\.getOrLoad\(ctx, key, loader\): loader must return a promise \(write it as an async function\), got the string "v"$/,
    );
    return true;
  });
  assert.equal(cache.get('k'), undefined);
  const weighed = createCache<string>({ name: 'w', maximumWeight: 10, weigh: () => -1 });
  assert.throws(() => weighed.set('k', 'v'), /weigh\(key, value\) must return a non-negative integer/);
});

test('get(key) with a key that is not a string throws, with or without listeners, and counts nothing', () => {
  const cache = createCache<string>({ name: 'badkey', maximumSize: 10 });
  cache.set('1', 'one');
  const bad = (e: unknown): boolean =>
    e instanceof TypeError &&
    (e as { code?: string }).code === 'LEASH_ERR_INVALID_ARG' &&
    /^badkey\.get\(key\): key must be a string, got the number 1$/.test((e as Error).message);
  // A number never equals a stored string key: it would always miss, so it is an error.
  assert.throws(() => cache.get(1 as never), bad);
  assert.throws(() => cache.get(undefined as never), /key must be a string, got undefined$/);
  assert.deepEqual([cache.stats().hits, cache.stats().misses], [0, 0]);
  const fn = (): void => {};
  diagnostics_channel.subscribe('leash:cache:miss', fn);
  try {
    assert.throws(() => cache.get(1 as never), bad);
    assert.equal(cache.get('1'), 'one', 'a string key still hits while someone listens');
  } finally {
    diagnostics_channel.unsubscribe('leash:cache:miss', fn);
  }
  assert.equal(cache.get('1'), 'one');
  assert.equal(cache.get('2'), undefined);
  assert.deepEqual([cache.stats().hits, cache.stats().misses], [2, 1]);
});

test('events: hit, miss and stale are published as frozen payloads, and only while someone listens', async () => {
  let now = 0;
  const cache = createCacheWithClock<string>(
    { name: 'ev', maximumSize: 10, ttlMs: 10, staleMs: 10 },
    () => now,
  );
  const seen: [string, unknown][] = [];
  const subs = ['hit', 'miss', 'stale'].map((event) => {
    const fn = (m: unknown): void => {
      seen.push([event, m]);
    };
    diagnostics_channel.subscribe(`leash:cache:${event}`, fn);
    return (): void => {
      diagnostics_channel.unsubscribe(`leash:cache:${event}`, fn);
    };
  });
  try {
    cache.get('k');
    cache.set('k', 'v');
    cache.get('k');
    now = 15;
    assert.equal(await cache.getOrLoad(background(), 'k', async () => 'v2'), 'v');
    await tick();
  } finally {
    for (const unsubscribe of subs) unsubscribe();
  }
  assert.deepEqual(
    seen.map(([event, m]) => [event, { ...(m as object) }]),
    [
      ['miss', { name: 'ev', key: 'k', tier: 'memory' }],
      ['hit', { name: 'ev', key: 'k', tier: 'memory' }],
      ['stale', { name: 'ev', key: 'k', staleForMs: 5 }],
    ],
  );
  assert.ok(seen.every(([, m]) => Object.isFrozen(m)));
  cache.get('k');
  assert.equal(seen.length, 3, 'nothing published without subscribers');
});

test('negative caching in memory: undefined is cached for negativeTtlMs, then loaded again; with 0 (the default) never', async () => {
  let now = 0;
  let runs = 0;
  const none = async () => {
    runs++;
    return undefined;
  };
  const cache = createCacheWithClock<string | undefined>(
    { name: 'negative', maximumSize: 10, negativeTtlMs: 1_000 },
    () => now,
  );
  assert.equal(await cache.getOrLoad(background(), 'missing', none), undefined);
  assert.equal(await cache.getOrLoad(background(), 'missing', none), undefined);
  assert.equal(runs, 1, 'the negative entry answered the second call');
  now = 1_001;
  await cache.getOrLoad(background(), 'missing', none);
  assert.equal(runs, 2, 'past negativeTtlMs the loader runs again');
  runs = 0;
  const plain = createCache<string | undefined>({ name: 'plain', maximumSize: 10 });
  await plain.getOrLoad(background(), 'k', none);
  await plain.getOrLoad(background(), 'k', none);
  assert.equal(runs, 2, 'negativeTtlMs 0: undefined is not cached');
});

test('set(key, undefined) stores an absence for the entry ttl: getOrLoad returns it without loading until it expires or is deleted', async () => {
  let now = 0;
  let runs = 0;
  const load = async () => {
    runs++;
    return 'loaded';
  };
  const cache = createCacheWithClock<string | undefined>(
    { name: 'absent', maximumSize: 10, ttlMs: 5_000, negativeTtlMs: 1 },
    () => now,
  );
  cache.set('k', undefined, { ttlMs: 2_000 });
  now = 1_000; // past negativeTtlMs, within the entry's ttlMs
  assert.equal(await cache.getOrLoad(background(), 'k', load), undefined);
  assert.equal(runs, 0, 'the stored absence answered');
  now = 2_001;
  assert.equal(await cache.getOrLoad(background(), 'k', load), 'loaded');
  assert.equal(runs, 1, 'past its ttl the loader runs');
  cache.set('k', undefined);
  assert.equal(await cache.getOrLoad(background(), 'k', load), undefined);
  cache.delete('k');
  assert.equal(await cache.getOrLoad(background(), 'k', load), 'loaded');
  assert.equal(runs, 2, 'after delete the loader runs');
});
