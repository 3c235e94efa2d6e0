// leashjs/cache with its Redis tier, against real Redis at 127.0.0.1:6379: values shared between
// caches on separate connections, Redis cut mid-run through a TCP proxy (degrading to memory and the
// loader, stale values served), a Redis that does not answer (bounded by the caller's budget), the
// cross-process lease (three child processes load one key once), the invalidation bus with version
// fencing (late messages, late reads, a subscriber cut and restored, also in a second process),
// negative caching, and a 3-node Redis Cluster this test starts on free local ports.
// Skipped when LEASH_TEST_REDIS=0 (scripts/run-tests.mjs sets it when Redis does not answer).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import diagnostics_channel from 'node:diagnostics_channel';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Redis as Client, Cluster, Redis, type RedisOptions } from 'ioredis';
import {
  type Cache,
  type CacheOptions,
  type CacheRedisErrorEvent,
  createCache,
  type Serializer,
} from '../../src/cache/index.js';
import { background, sleep as ctxSleep, withCancel, withTimeout } from '../../src/context/index.js';
import { snapshot, verifyNone } from '../../src/leak/index.js';
import { circuitBreaker } from '../../src/resilience/index.js';
import { startCluster } from '../resilience/redis-cluster.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

const skip = process.env.LEASH_TEST_REDIS === '0' ? 'Redis is not available (LEASH_TEST_REDIS=0)' : false;
const bg = background();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fixture = fileURLToPath(new URL('./fixtures/lease-loader.ts', import.meta.url));
const peerFixture = fileURLToPath(new URL('./fixtures/bus-peer.ts', import.meta.url));

function client(port = 6379, extra: RedisOptions = {}): Client {
  // disableClientInfo: the CLIENT SETINFO promises of a connection the proxy refuses never settle.
  // enableReadyCheck: false, for the same reason with INFO (ioredis loses both when the proxy drops
  // a connection it has just accepted).
  const c = new Redis({
    host: '127.0.0.1',
    port,
    retryStrategy: () => 50,
    disableClientInfo: true,
    enableReadyCheck: false,
    ...extra,
  });
  c.on('error', () => {}); // reconnects are expected while the proxy is down
  return c;
}

async function ready(c: Client): Promise<void> {
  if (c.status !== 'ready') await new Promise((r) => c.once('ready', r));
}

/** until polls `cond` every 5 ms for up to `ms`. */
async function until(cond: () => boolean, ms = 2_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function gate<T = void>(): { promise: Promise<T>; open: (v: T) => void } {
  let open!: (v: T) => void;
  const promise = new Promise<T>((res) => {
    open = res;
  });
  return { promise, open };
}

/** withCaches gives `fn` fresh clients and caches (one unique name), and closes everything after, then checks for leaks. */
async function withCaches<V>(
  n: number,
  opts: Partial<CacheOptions<V>>,
  fn: (caches: Cache<V>[], clients: Client[], name: string) => Promise<void>,
  port = 6379,
): Promise<void> {
  const base = snapshot();
  const name = `t-${randomUUID()}`;
  const clients = Array.from({ length: n }, () => client(port));
  const caches = clients.map((redis) => createCache<V>({ name, maximumSize: 1_000, redis, ...opts }));
  try {
    await Promise.all(clients.map(ready));
    await Promise.all(caches.map((c) => c.flush()));
    await fn(caches, clients, name);
  } finally {
    await Promise.all(caches.map((c) => c.close()));
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
  }
  await verifyNone({ baseline: base });
}

/**
 * blackHoled is `real` with its script calls answered by `never` (a network that swallows them)
 * while `hanging()` says so; connected, with every other method its own.
 */
function blackHoled(real: Client, hanging: () => boolean, never: Promise<void>): Client {
  return new Proxy(real, {
    get(target, p) {
      if ((p === 'evalsha' || p === 'eval') && hanging()) return () => never;
      const v = Reflect.get(target, p);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

const fail = async (): Promise<never> => {
  throw new Error('the loader must not run');
};

describe('leashjs/cache Redis tier', { skip, timeout: 30_000 }, () => {
  test('a value loaded by one cache is read from Redis by another (tier redis), JSON in a hash-tagged key, with the ttl', async () => {
    await withCaches<{ n: number }>(2, { ttlMs: 30_000 }, async ([a, b], [redis], name) => {
      const hits: unknown[] = [];
      const onHit = (m: unknown) => hits.push(m);
      diagnostics_channel.subscribe('leash:cache:hit', onHit);
      try {
        assert.deepEqual(await a?.getOrLoad(bg, 'k', async () => ({ n: 1 })), { n: 1 });
        await a?.flush();
        const h = await redis?.hgetall(`leash:cache:{${name}:k}`);
        assert.equal(h?.d, '{"n":1}');
        assert.ok(Number(h?.v) > 0);
        const pttl = (await redis?.pttl(`leash:cache:{${name}:k}`)) as number;
        assert.ok(pttl > 29_000 && pttl <= 30_000, String(pttl));
        assert.deepEqual(await b?.getOrLoad(bg, 'k', fail), { n: 1 });
        assert.deepEqual(hits.at(-1), { name, key: 'k', tier: 'redis' });
        assert.ok(Object.isFrozen(hits.at(-1)));
        assert.deepEqual(b?.get('k'), { n: 1 }, 'stored in the memory tier of b');
        assert.equal(b?.stats().redisHits, 1);
        assert.equal(b?.stats().loads, 1);
        await b?.getOrLoad(bg, 'k', fail);
        assert.deepEqual(hits.at(-1), { name, key: 'k', tier: 'memory' });
      } finally {
        diagnostics_channel.unsubscribe('leash:cache:hit', onHit);
      }
    });
  });

  test('serializer option: what Redis holds is what serialize wrote', async () => {
    const reversed: Serializer<string> = {
      serialize: (v) => [...v].reverse().join(''),
      deserialize: (s) => [...s].reverse().join(''),
    };
    await withCaches<string>(2, { serializer: reversed }, async ([a, b], [redis], name) => {
      a?.set('k', 'abc');
      await a?.flush();
      assert.equal(await redis?.hget(`leash:cache:{${name}:k}`, 'd'), 'cba');
      assert.equal(await redis?.pttl(`leash:cache:{${name}:k}`), -1, 'no ttl: no expiry');
      assert.equal(await b?.getOrLoad(bg, 'k', fail), 'abc');
    });
  });

  test('set and delete write through; a delete leaves a higher version (a tombstone), never a lower one', async () => {
    await withCaches<string>(2, {}, async ([a, b], [redis], name) => {
      const key = `leash:cache:{${name}:k}`;
      a?.set('k', 'v1');
      await a?.flush();
      const v1 = Number(await redis?.hget(key, 'v'));
      a?.delete('k');
      await a?.flush();
      const h = await redis?.hgetall(key);
      assert.equal(h?.d, undefined);
      assert.ok(Number(h?.v) > v1);
      assert.ok(((await redis?.pttl(key)) as number) > 0, 'the tombstone expires');
      assert.equal(await b?.getOrLoad(bg, 'k', async () => 'loaded'), 'loaded');
      await b?.flush();
      assert.ok(Number(await redis?.hget(key, 'v')) > Number(h?.v));
    });
  });

  test('createCache checks the Redis options; redis and bus are known options', () => {
    const redis = { evalsha: async () => 0, eval: async () => 0, publish: async () => 0 };
    const bad = (o: object, re: RegExp) =>
      assert.throws(
        () => createCache({ name: 'c', maximumSize: 1, ...o } as CacheOptions<unknown>),
        (e: unknown) =>
          e instanceof TypeError &&
          (e as { code?: string }).code === 'LEASH_ERR_INVALID_ARG' &&
          re.test(e.message),
      );
    bad({ redis: {} }, /redis must be an ioredis client/);
    bad({ bus: true }, /bus needs redis/);
    bad({ serializer: { serialize: String, deserialize: String } }, /serializer needs redis/);
    bad({ redis, bus: true }, /duplicate/);
    bad({ redis, bus: 'yes' }, /bus must be a boolean/);
    bad({ redis, serializer: { serialize: String } }, /serializer must be/);
    bad({ redis, redisTimeoutMs: -1 }, /redisTimeoutMs/);
    bad({ redis, leaseMs: 0.5 }, /leaseMs/);
    bad({ redis, negativeTtlMs: -1 }, /negativeTtlMs/);
    bad({ negativeTtl: 5 }, /did you mean "negativeTtlMs"/);
    assert.throws(() => createCache({ name: 'a{b}', maximumSize: 1, redis }), /no braces/);
    assert.equal(createCache({ name: 'c', maximumSize: 1, redis }).name, 'c');
  });

  test('Redis cut mid-run: every caller still gets its value within its deadline (memory tier and loader), and Redis is used again once back', async () => {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
    const errors: CacheRedisErrorEvent[] = [];
    const onErr = (m: unknown) => errors.push(m as CacheRedisErrorEvent);
    diagnostics_channel.subscribe('leash:cache:redis-error', onErr);
    try {
      await withCaches<string>(
        1,
        { ttlMs: 20 },
        async ([c], [redis]) => {
          const cache = c as Cache<string>;
          let failures = 0;
          let calls = 0;
          const round = async (i: number) => {
            const key = `k${i % 10}`;
            const [ctx, cancel] = withTimeout(bg, 200);
            try {
              const v = await cache.getOrLoad(ctx, key, async () => `v-${key}`);
              assert.equal(v, `v-${key}`);
              calls++;
            } catch (e) {
              failures++;
              console.log('FAIL', i, e);
            } finally {
              cancel();
            }
          };
          for (let i = 0; i < 60; i++) await round(i);
          const before = cache.stats();
          assert.ok(before.redisHits + before.redisMisses > 0, 'Redis answered before the cut');
          assert.equal(before.redisErrors, 0);
          proxy.down();
          proxy.cut();
          const t0 = Date.now();
          for (let i = 60; i < 120; i++) {
            await round(i);
            if (i % 10 === 0) await sleep(10); // values expire: the loader runs again
          }
          assert.ok(Date.now() - t0 < 3_000);
          assert.equal(failures, 0, 'no caller failed while Redis was away');
          assert.ok(cache.stats().redisErrors > 0);
          assert.ok(errors.length > 0 && errors.every((e) => Object.isFrozen(e) && e.op !== undefined));
          proxy.up();
          await ready(redis as Client);
          const hitsDown = cache.stats().redisHits;
          const missesDown = cache.stats().redisMisses;
          await sleep(30);
          for (let i = 120; i < 160; i++) await round(i);
          assert.equal(failures, 0);
          assert.equal(calls, 160);
          assert.ok(
            cache.stats().redisHits > hitsDown || cache.stats().redisMisses > missesDown,
            'Redis is used again',
          );
        },
        proxy.port,
      );
    } finally {
      diagnostics_channel.unsubscribe('leash:cache:redis-error', onErr);
      await proxy.close();
    }
  });

  test('Redis down and the loader failing: the stale value is served within staleMs, not after', async () => {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
    try {
      await withCaches<string>(
        1,
        { ttlMs: 30, staleMs: 300 },
        async ([c], clients) => {
          const cache = c as Cache<string>;
          assert.equal(await cache.getOrLoad(bg, 'k', async () => 'v1'), 'v1');
          await cache.flush();
          proxy.down();
          proxy.cut();
          await sleep(50); // past the ttl, within staleMs
          const down = async (): Promise<string> => {
            throw new Error('the database is down too');
          };
          const [ctx, cancel] = withTimeout(bg, 100);
          assert.equal(await cache.getOrLoad(ctx, 'k', down), 'v1');
          cancel();
          await sleep(20);
          assert.equal(await cache.getOrLoad(bg, 'k', down), 'v1');
          assert.ok(cache.stats().staleServed >= 2);
          await sleep(320); // past ttl + staleMs
          await assert.rejects(cache.getOrLoad(bg, 'k', down), /database is down/);
          proxy.up();
          // The Redis reads the caches stopped waiting for are still queued in ioredis until it
          // reconnects; leave only once they have been answered (the leak check after this would
          // otherwise race the reconnection: it failed once, on a loaded CI machine).
          await ready(clients[0] as Client);
          await cache.flush();
          await until(
            () => (clients[0] as Client).commandQueue.length === 0,
            2_000,
            'the Redis reads to be answered',
          );
        },
        proxy.port,
      );
    } finally {
      await proxy.close();
    }
  });

  test("a Redis that does not answer costs at most half the caller's remaining time: the loader still answers within the deadline", async () => {
    const base = snapshot();
    const real = client();
    await ready(real);
    // Connected, but the script calls do not answer until the test ends (a black-holed network).
    const never = gate<void>();
    const hung = blackHoled(real, () => true, never.promise);
    try {
      const cache = createCache<string>({
        name: `t-${randomUUID()}`,
        maximumSize: 10,
        redis: hung,
        redisTimeoutMs: 5_000,
      });
      const [ctx, cancel] = withTimeout(bg, 400);
      const t0 = Date.now();
      assert.equal(await cache.getOrLoad(ctx, 'k', async () => 'v'), 'v');
      const ms = Date.now() - t0;
      cancel();
      assert.ok(ms >= 190 && ms < 400, `answered in ${ms} ms`);
      assert.equal(cache.stats().redisErrors, 1);
      assert.equal(cache.get('k'), 'v', 'kept in memory');
      never.open();
      await cache.close();
    } finally {
      await real.quit();
    }
    await verifyNone({ baseline: base });
  });

  test('a Redis that stops answering opens the breaker: loads stop waiting for it, and it is used again once it answers', async () => {
    const base = snapshot();
    const real = client();
    await ready(real);
    // Connected, but while `hang` is set the script calls never answer (a black-holed network).
    let hang = true;
    const never = gate<void>();
    const hung = blackHoled(real, () => hang, never.promise);
    const errors: CacheRedisErrorEvent[] = [];
    const onErr = (m: unknown) => errors.push(m as CacheRedisErrorEvent);
    diagnostics_channel.subscribe('leash:cache:redis-error', onErr);
    try {
      // A budget cut short by the caller's deadline (10 ms of the 30) is not Redis's failure:
      // twelve such loads leave the default breaker closed, and the next load waits for Redis.
      const short = createCache<string>({
        name: `t-${randomUUID()}`,
        maximumSize: 100,
        redis: hung,
        redisTimeoutMs: 30,
      });
      for (let i = 0; i < 12; i++) {
        const [ctx, cancel] = withTimeout(bg, 20);
        assert.equal(await short.getOrLoad(ctx, `s${i}`, async () => 'v'), 'v');
        cancel();
      }
      const t1 = performance.now();
      await short.getOrLoad(bg, 'last', async () => 'v');
      assert.ok(performance.now() - t1 >= 25, 'the breaker stayed closed: the load paid the budget');
      assert.equal(errors.filter((e) => (e.error as Error).name === 'BrokenCircuitError').length, 0);
      await short.close();
      errors.length = 0;

      // The default breaker: 10 calls that ran out of their budget open it.
      const cache = createCache<string>({
        name: `t-${randomUUID()}`,
        maximumSize: 100,
        redis: hung,
        redisTimeoutMs: 30,
      });
      let waited = 0;
      for (let i = 0; i < 40; i++) {
        const t0 = performance.now();
        assert.equal(await cache.getOrLoad(bg, `k${i}`, async () => `v${i}`), `v${i}`);
        if (performance.now() - t0 >= 30) waited++;
      }
      const timeouts = errors.filter((e) => (e.error as Error).name === 'RedisTimeoutError').length;
      const rejected = errors.filter((e) => (e.error as Error).name === 'BrokenCircuitError').length;
      assert.equal(timeouts, 10, 'ten loads paid the Redis budget, then the breaker opened');
      assert.ok(waited <= 12, `${waited} loads waited for Redis`);
      assert.equal(rejected, 30, 'the other loads did not wait for Redis at all');
      await cache.close();

      // Open, it guards reads only: a delete and a tag delete still reach Redis.
      hang = false;
      const name = `t-${randomUUID()}`;
      const forced = circuitBreaker();
      const writer = createCache<string>({ name, maximumSize: 100, redis: real, redisBreaker: forced });
      const reader = createCache<string>({ name, maximumSize: 100, redis: real });
      writer.set('gone', 'v');
      writer.set('tagged', 'v', { tags: ['t'] });
      await writer.flush();
      forced.forceOpen();
      writer.delete('gone');
      writer.deleteByTag('t');
      await writer.flush();
      assert.equal(writer.stats().redisErrors, 0, 'nothing was refused');
      assert.equal(await reader.getOrLoad(bg, 'gone', async () => 'loaded'), 'loaded');
      assert.equal(await reader.getOrLoad(bg, 'tagged', async () => 'loaded'), 'loaded');
      await Promise.all([writer.close(), reader.close()]);
      hang = true;

      // Recovery, with a breaker of the caller's: open for 200 ms, then one probe.
      hang = true;
      const breaker = circuitBreaker({
        window: { calls: 3 },
        minimumCalls: 3,
        openMs: 200,
        halfOpenCalls: 1,
      });
      const c2 = createCache<string>({
        name: `t-${randomUUID()}`,
        maximumSize: 100,
        redis: hung,
        redisTimeoutMs: 30,
        redisBreaker: breaker,
      });
      for (let i = 0; i < 3; i++) await c2.getOrLoad(bg, `a${i}`, async () => 'v');
      assert.equal(breaker.state, 'open');
      hang = false;
      await sleep(250);
      const missesBefore = c2.stats().redisMisses;
      assert.equal(await c2.getOrLoad(bg, 'b', async () => 'vb'), 'vb');
      assert.equal(c2.stats().redisMisses, missesBefore + 1, 'the probe reached Redis');
      assert.equal(breaker.state, 'closed');
      await c2.flush();
      await c2.close();
      assert.throws(() => createCache({ name: 'x', maximumSize: 1, redisBreaker: breaker }), {
        code: 'LEASH_ERR_INVALID_ARG',
        message: /redisBreaker needs redis/,
      });
      assert.throws(
        () => createCache({ name: 'x', maximumSize: 1, redis: real, redisBreaker: {} as never }),
        { code: 'LEASH_ERR_INVALID_ARG', message: /redisBreaker must come from circuitBreaker/ },
      );
    } finally {
      never.open();
      diagnostics_channel.unsubscribe('leash:cache:redis-error', onErr);
      await real.quit();
    }
    await verifyNone({ baseline: base });
  });

  test('lease: while one cache loads a key, another waits for its value instead of loading', async () => {
    await withCaches<string>(2, {}, async ([a, b]) => {
      const g = gate<string>();
      let bRan = false;
      const pa = a?.getOrLoad(bg, 'k', () => g.promise);
      await sleep(30); // a holds the lease
      const pb = b?.getOrLoad(bg, 'k', async () => {
        bRan = true;
        return 'from b';
      });
      await sleep(50);
      g.open('from a');
      assert.equal(await pa, 'from a');
      assert.equal(await pb, 'from a');
      assert.equal(bRan, false);
      assert.equal(b?.stats().redisHits, 1);
    });
  });

  test("lease: a holder whose load fails releases it at once; one that hangs makes others wait for leaseMs, or for half their caller's remaining time", async () => {
    await withCaches<string>(2, { leaseMs: 300 }, async ([a, b]) => {
      // Fails: b takes over well before leaseMs.
      const g = gate<void>();
      const pa = a?.getOrLoad(bg, 'f', async () => {
        await g.promise;
        throw new Error('boom');
      });
      await sleep(30);
      const t0 = Date.now();
      const pb = b?.getOrLoad(bg, 'f', async () => 'b');
      await sleep(20);
      g.open();
      await assert.rejects(pa as Promise<string>, /boom/);
      assert.equal(await pb, 'b');
      assert.ok(Date.now() - t0 < 250, 'did not wait for the lease to expire');

      // Hangs: b waits for the lease to expire, then loads.
      const [hctx, hcancel] = withCancel(bg);
      const [h2ctx, h2cancel] = withCancel(bg);
      try {
        const hanging = a?.getOrLoad(hctx, 'h', (lctx) => ctxSleep(lctx, 60_000).then(() => 'never'));
        await sleep(30);
        // A caller with a deadline waits for the lease for half its remaining time, then loads itself.
        const [dctx, dcancel] = withTimeout(bg, 200);
        const t2 = Date.now();
        assert.equal(await b?.getOrLoad(dctx, 'h', async () => 'b, in time'), 'b, in time');
        // Half of 200 ms, less one poll interval (at most 50 ms): it checks before each sleep.
        assert.ok(Date.now() - t2 >= 40 && Date.now() - t2 < 200, `${Date.now() - t2} ms`);
        dcancel();
        b?.delete('h');
        await b?.flush();
        // Taken again by a (the delete does not end its load): b, without a deadline, waits for leaseMs.
        const hanging2 = a?.getOrLoad(h2ctx, 'h2', (lctx) => ctxSleep(lctx, 60_000).then(() => 'never'));
        await sleep(30);
        const t1 = Date.now();
        assert.equal(await b?.getOrLoad(bg, 'h2', async () => 'after expiry'), 'after expiry');
        assert.ok(Date.now() - t1 >= 150, 'waited for the lease');
        hcancel();
        h2cancel();
        await assert.rejects(hanging as Promise<string>);
        await assert.rejects(hanging2 as Promise<string>);
      } finally {
        // Also when an assertion above failed: the hanging loads end with their last caller.
        hcancel();
        h2cancel();
      }
    });
  });

  test('three processes, 1,000 concurrent misses each on one key: the loader runs once across all of them', async () => {
    const name = `t-${randomUUID()}`;
    const runsKey = `${name}:runs`;
    const startAt = Date.now() + 4_000; // every process started and connected by then
    const run = () =>
      new Promise<{ localRuns: number; values: number[] }>((resolve, reject) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', fixture],
          {
            env: {
              ...process.env,
              REDIS_PORT: '6379',
              NAME: name,
              RUNS_KEY: runsKey,
              START_AT: String(startAt),
              LOAD_MS: '300',
            },
            timeout: 60_000,
          },
          (err, stdout, stderr) =>
            err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
        );
      });
    const results = await Promise.all([run(), run(), run()]);
    const redis = client();
    try {
      assert.equal(await redis.get(runsKey), '1', 'one load across the three processes');
      assert.equal(
        results.reduce((n, r) => n + r.localRuns, 0),
        1,
      );
      const values = new Set(results.flatMap((r) => r.values));
      assert.equal(values.size, 1, 'every caller in every process got the one value');
      await redis.del(runsKey);
    } finally {
      await redis.quit();
    }
  });

  test('a value past its ttl in Redis is served stale within staleMs to a cache that never held it, while one refresh runs', async () => {
    await withCaches<string>(3, { ttlMs: 100, staleMs: 5_000 }, async ([a, b, c]) => {
      const [x, y, z] = [a, b, c] as [Cache<string>, Cache<string>, Cache<string>];
      assert.equal(await x.getOrLoad(bg, 'k', async () => 'v1'), 'v1');
      await x.flush();
      await sleep(150);
      let loads = 0;
      const release = gate();
      const t0 = performance.now();
      const v = await y.getOrLoad(bg, 'k', async () => {
        loads++;
        await release.promise;
        return 'v2';
      });
      assert.equal(v, 'v1', 'the stale value, from Redis');
      assert.ok(performance.now() - t0 < 1_000, 'served without waiting for the loader');
      assert.equal(y.stats().staleServed, 1);
      assert.equal(y.stats().redisHits, 1);
      await until(() => loads === 1, 2_000, 'the refresh to start');
      // While it runs, callers get the stale value from memory and no other load starts.
      assert.equal(await y.getOrLoad(bg, 'k', fail), 'v1');
      release.open();
      await until(() => y.get('k') === 'v2', 2_000, 'the refresh to land');
      await y.flush();
      assert.equal(await z.getOrLoad(bg, 'k', fail), 'v2', 'the refreshed value is in Redis');
      assert.equal(loads, 1);
    });
    // Past ttl + staleMs Redis has dropped it: the loader runs.
    await withCaches<string>(2, { ttlMs: 50, staleMs: 100 }, async ([a, b]) => {
      assert.equal(await (a as Cache<string>).getOrLoad(bg, 'k', async () => 'v1'), 'v1');
      await (a as Cache<string>).flush();
      await sleep(250);
      assert.equal(await (b as Cache<string>).getOrLoad(bg, 'k', async () => 'v2'), 'v2');
    });
  });

  test('staleMs: Infinity with Redis: values still expire in Redis at their ttl, and nothing fails', async () => {
    await withCaches<string>(
      1,
      { ttlMs: 60_000, staleMs: Number.POSITIVE_INFINITY },
      async ([c], [redis], name) => {
        const cache = c as Cache<string>;
        assert.equal(await cache.getOrLoad(bg, 'k', async () => 'v'), 'v');
        await cache.flush();
        assert.equal(cache.stats().redisErrors, 0);
        const pttl = await (redis as Client).pttl(`leash:cache:{${name}:k}`);
        assert.ok(pttl > 0 && pttl <= 60_000, `pttl ${pttl}`);
      },
    );
  });

  test('negative caching: undefined is cached for negativeTtlMs (in Redis too); with 0 it is not cached', async () => {
    await withCaches<string | undefined>(2, { negativeTtlMs: 5_000 }, async ([a, b], [redis], name) => {
      let runs = 0;
      const none = async () => {
        runs++;
        return undefined;
      };
      assert.equal(await a?.getOrLoad(bg, 'missing', none), undefined);
      assert.equal(await a?.getOrLoad(bg, 'missing', none), undefined);
      assert.equal(runs, 1);
      await a?.flush();
      assert.equal(await redis?.hget(`leash:cache:{${name}:missing}`, 'u'), '1');
      const pttl = (await redis?.pttl(`leash:cache:{${name}:missing}`)) as number;
      assert.ok(pttl > 4_000 && pttl <= 5_000);
      assert.equal(
        await b?.getOrLoad(bg, 'missing', fail),
        undefined,
        'b reads the negative entry from Redis',
      );
      assert.equal(b?.stats().redisHits, 1);
    });
    const c = createCache<string | undefined>({ name: 'c', maximumSize: 10 });
    let runs = 0;
    const none = async () => {
      runs++;
      return undefined;
    };
    await c.getOrLoad(bg, 'k', none);
    await c.getOrLoad(bg, 'k', none);
    assert.equal(runs, 2, 'negativeTtlMs 0 (the default): undefined is not cached');
  });
});

describe('leashjs/cache invalidation bus', { skip }, () => {
  test('a set, a delete, a deleteByTag and a clear on one cache evict the key from the other caches', async () => {
    await withCaches<string>(3, { bus: true }, async (caches) => {
      const [a, b, c] = caches as [Cache<string>, Cache<string>, Cache<string>];
      a.set('k', 'v1', { tags: ['t'] });
      await a.flush();
      for (const x of [b, c]) assert.equal(await x.getOrLoad(bg, 'k', fail, { tags: ['t'] }), 'v1');
      a.set('k', 'v2');
      await a.flush();
      await until(
        () => b.get('k') === undefined && c.get('k') === undefined,
        2_000,
        'the set to reach b and c',
      );
      assert.equal(await b.getOrLoad(bg, 'k', fail), 'v2');
      assert.ok(b.stats().invalidations >= 1, JSON.stringify(b.stats()));
      a.delete('k');
      await a.flush();
      await until(() => b.get('k') === undefined, 2_000, 'the delete to reach b');
      assert.equal(await b.getOrLoad(bg, 'k', async () => 'reloaded'), 'reloaded');
      // Tags: b and c hold tagged values that a never had.
      b.set('x', 'x', { tags: ['red'] });
      c.set('y', 'y', { tags: ['red'] });
      a.deleteByTag('red');
      await a.flush();
      await until(() => b.get('x') === undefined && c.get('y') === undefined, 2_000, 'the tag delete');
      b.set('z', 'z');
      await b.flush();
      assert.equal(await c.getOrLoad(bg, 'z', fail), 'z');
      a.clear();
      await a.flush();
      await until(() => c.get('z') === undefined, 2_000, 'the clear');
    });
  });

  test('deleteByTag and clear reach values only Redis holds: a cache that never held them invalidates them for caches that never did', async () => {
    await withCaches<string>(4, {}, async (caches) => {
      const [writer, deleter, reader, fresh] = caches as [
        Cache<string>,
        Cache<string>,
        Cache<string>,
        Cache<string>,
      ];
      writer.set('x', 'old-x', { tags: ['red'] });
      writer.set('y', 'old-y', { tags: ['blue', 'red'] });
      writer.set('z', 'old-z', { tags: ['blue'] });
      writer.set('plain', 'old-plain');
      await writer.flush();
      assert.equal(deleter.deleteByTag('red'), 0, 'the deleter held none of them');
      await deleter.flush();
      assert.equal(await reader.getOrLoad(bg, 'x', async () => 'new-x'), 'new-x');
      assert.equal(await reader.getOrLoad(bg, 'y', async () => 'new-y'), 'new-y');
      assert.equal(await reader.getOrLoad(bg, 'z', fail), 'old-z', 'another tag is untouched');
      assert.equal(await reader.getOrLoad(bg, 'plain', fail), 'old-plain', 'an untagged value is untouched');
      await reader.flush();
      // Written after the epoch: a value like any other.
      assert.equal(await deleter.getOrLoad(bg, 'x', fail), 'new-x');
      writer.set('later', 'v', { tags: ['red'] });
      await writer.flush();
      assert.equal(await deleter.getOrLoad(bg, 'later', fail), 'v');
      // clear(): every value written before it, by anyone, is gone from Redis for everyone.
      deleter.clear();
      await deleter.flush();
      for (const k of ['x', 'z', 'plain', 'later'])
        assert.equal(await fresh.getOrLoad(bg, k, async () => `cleared-${k}`), `cleared-${k}`);
      await fresh.flush();
      writer.set('after', 'a');
      await writer.flush();
      assert.equal(
        await fresh.getOrLoad(bg, 'after', fail),
        'a',
        'a value written after the clear is served',
      );
      for (const c of caches) assert.equal(c.stats().redisErrors, 0, JSON.stringify(c.stats()));
    });
  });

  test('version fencing: a late message (an older version) evicts nothing; a newer one does', async () => {
    await withCaches<string>(2, { bus: true }, async ([a, b], [redis], name) => {
      a?.set('k', 'v1');
      await a?.flush();
      a?.set('k', 'v2');
      await a?.flush();
      const v2 = Number(await redis?.hget(`leash:cache:{${name}:k}`, 'v'));
      assert.equal(await b?.getOrLoad(bg, 'k', fail), 'v2');
      const channel = `leash:cache:{${name}}:bus`;
      // The message of the first set (or of a delete before it), delivered late.
      await redis?.publish(channel, JSON.stringify({ o: 'other', op: 'set', k: 'k', v: v2 - 1 }));
      await redis?.publish(channel, JSON.stringify({ o: 'other', op: 'del', k: 'k', v: v2 }));
      await sleep(100);
      assert.equal(b?.get('k'), 'v2', 'late messages did not evict the newer value');
      assert.equal(b?.stats().invalidations, 0);
      await redis?.publish(channel, JSON.stringify({ o: 'other', op: 'del', k: 'k', v: v2 + 1 }));
      await until(() => b?.get('k') === undefined, 2_000, 'the newer message');
      assert.equal(b?.stats().invalidations, 1);
    });
  });

  test('version fencing: a read answered after a newer delete reached the bus is served to its caller but not stored', async () => {
    const base = snapshot();
    const name = `t-${randomUUID()}`;
    const ra = client();
    const rb = client();
    const held = gate<void>();
    let hold = true;
    // b's script replies are delivered only when the test says so (a slow network on b's command connection).
    const slow = new Proxy(rb, {
      get(target, p) {
        const v = Reflect.get(target, p);
        if (p === 'evalsha' || p === 'eval')
          return (...args: unknown[]) => {
            const r = (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            return hold ? r.then((x) => held.promise.then(() => x)) : r;
          };
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const a = createCache<string>({ name, maximumSize: 10, redis: ra, bus: true });
    const b = createCache<string>({ name, maximumSize: 10, redis: slow, bus: true, redisTimeoutMs: 5_000 });
    try {
      await Promise.all([ready(ra), ready(rb), a.flush(), b.flush()]);
      a.set('k', 'old');
      await a.flush();
      const reading = b.getOrLoad(bg, 'k', fail); // Redis answers 'old' at once; b sees it later
      await sleep(20);
      a.delete('k');
      await a.flush();
      await sleep(50); // the delete's message reaches b before the read's reply
      hold = false;
      held.open();
      assert.equal(await reading, 'old', 'the caller asked before the delete');
      assert.equal(b.get('k'), undefined, 'old data was not brought back into memory');
      assert.equal(await b.getOrLoad(bg, 'k', async () => 'new'), 'new');
    } finally {
      await Promise.all([a.close(), b.close()]);
      await Promise.all([ra.quit(), rb.quit()]);
    }
    await verifyNone({ baseline: base });
  });

  test('a subscriber cut and restored: messages lost meanwhile cannot leave old values, the memory tier is read again', async () => {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
    const base = snapshot();
    const name = `t-${randomUUID()}`;
    const ra = client();
    // No down(): ioredis's own resubscribe after a reconnect rejects unhandled when the proxy drops
    // the new connection; the retry delay keeps b away for a while instead.
    const rb = client(proxy.port, { retryStrategy: () => 300, enableReadyCheck: true });
    const a = createCache<string>({ name, maximumSize: 10, redis: ra, bus: true });
    const b = createCache<string>({ name, maximumSize: 10, redis: rb, bus: true });
    try {
      await Promise.all([ready(ra), ready(rb), a.flush(), b.flush()]);
      a.set('k', 'v1');
      await a.flush();
      assert.equal(await b.getOrLoad(bg, 'k', fail), 'v1');
      proxy.cut();
      a.set('k', 'v2'); // b's subscriber is away: this message is lost for b
      await a.flush();
      await sleep(50);
      assert.equal(b.get('k'), 'v1', 'b did not hear of it');
      await until(() => b.get('k') === undefined, 3_000, 'b to drop its memory tier after resubscribing');
      await ready(rb);
      assert.equal(await b.getOrLoad(bg, 'k', fail), 'v2');
      // And the bus works again.
      a.set('k', 'v3');
      await a.flush();
      await until(() => b.get('k') === undefined, 3_000, 'the next message');
    } finally {
      await Promise.all([a.close(), b.close()]);
      await Promise.all([ra.quit(), rb.quit()]);
    }
    await verifyNone({ baseline: base });
    await proxy.close();
  });
});

describe('leashjs/cache on a 3-node Redis Cluster', { skip }, () => {
  test('loads, leases, writes, deletes and the bus work with keys spread over the slots (one hash tag per key)', {
    timeout: 60_000,
  }, async () => {
    const cluster = await startCluster(3);
    const base = snapshot();
    // In a function of its own: ioredis's Cluster keeps listeners on its connection pool after
    // disconnect(), gone only with the Cluster object itself.
    const run = async () => {
      const nodes = cluster.ports.map((port) => ({ host: '127.0.0.1', port }));
      const ca = new Cluster(nodes);
      const cb = new Cluster(nodes);
      const name = `t-${randomUUID()}`;
      const a = createCache<string>({ name, maximumSize: 100, redis: ca, bus: true });
      const b = createCache<string>({ name, maximumSize: 100, redis: cb, bus: true });
      try {
        await Promise.all([ca.ping(), cb.ping()]);
        await Promise.all([a.flush(), b.flush()]);
        const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
        for (const k of keys) assert.equal(await a.getOrLoad(bg, k, async () => `v-${k}`), `v-${k}`);
        await a.flush();
        for (const k of keys) assert.equal(await b.getOrLoad(bg, k, fail), `v-${k}`);
        assert.equal(b.stats().redisHits, keys.length);
        assert.equal(a.stats().redisErrors + b.stats().redisErrors, 0, 'no CROSSSLOT or other error');
        a.set('k1', 'new');
        a.delete('k2');
        await a.flush();
        await until(
          () => b.get('k1') === undefined && b.get('k2') === undefined,
          5_000,
          'the bus on the cluster',
        );
        assert.equal(await b.getOrLoad(bg, 'k1', fail), 'new');
        assert.equal(await b.getOrLoad(bg, 'k2', async () => 'reloaded'), 'reloaded');
        // A tag delete from a cache that never held the value reaches it in Redis, on another node.
        a.set('tagged', 'old', { tags: ['g'] });
        await a.flush();
        b.deleteByTag('g');
        await b.flush();
        await until(() => a.get('tagged') === undefined, 5_000, 'the tag delete on the cluster');
        assert.equal(await a.getOrLoad(bg, 'tagged', async () => 'reloaded'), 'reloaded');
        assert.equal(a.stats().redisErrors + b.stats().redisErrors, 0, 'no CROSSSLOT or other error');
      } finally {
        await Promise.all([a.close(), b.close()]);
        ca.disconnect();
        cb.disconnect();
      }
    };
    try {
      await run();
      await verifyNone({ baseline: base });
    } finally {
      await cluster.stop();
    }
  });
});

describe('leashjs/cache invalidation bus between two processes', { skip }, () => {
  test("another process's memory tier sees this one's sets, also after its connections are cut and restored", {
    timeout: 30_000,
  }, async () => {
    const base = snapshot();
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
    const name = `t-${randomUUID()}`;
    const child = spawn(process.execPath, ['--import', 'tsx', peerFixture], {
      env: { ...process.env, REDIS_PORT: String(proxy.port), NAME: name },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout as NonNullable<typeof child.stdout> })[
      Symbol.asyncIterator
    ]();
    const next = async (): Promise<{ value?: string | null; ready?: boolean }> => {
      const r = await lines.next();
      if (r.done) throw new Error('the peer exited');
      return JSON.parse(r.value);
    };
    const ask = async (cmd: string) => {
      child.stdin?.write(`${cmd}\n`);
      return (await next()).value;
    };
    const peerDrops = async (key: string, what: string) => {
      const end = Date.now() + 5_000;
      while ((await ask(`get ${key}`)) !== null) {
        if (Date.now() > end) assert.fail(`the peer still holds ${key}: ${what}`);
        await sleep(20);
      }
    };
    const redis = client();
    const a = createCache<string>({ name, maximumSize: 100, redis, bus: true });
    try {
      assert.equal((await next()).ready, true);
      await Promise.all([ready(redis), a.flush()]);
      a.set('k', 'v1');
      await a.flush();
      assert.equal(await ask('load k'), 'v1', 'the peer reads it from Redis');
      assert.equal(await ask('get k'), 'v1', 'and holds it in memory');
      a.set('k', 'v2');
      await a.flush();
      await peerDrops('k', 'after a set');
      assert.equal(await ask('load k'), 'v2');
      a.delete('k');
      await a.flush();
      await peerDrops('k', 'after a delete');
      assert.equal(await ask('load k'), 'loaded-by-peer');
      await sleep(50); // the peer's write-back
      // Cut the peer's connections; write while it is away (its reconnect waits 300 ms).
      proxy.cut();
      a.set('k', 'v3');
      await a.flush();
      await peerDrops('k', 'after its subscriber came back');
      assert.equal(await ask('load k'), 'v3');
    } finally {
      child.stdin?.end();
      await new Promise((r) => child.once('exit', r));
      await a.close();
      await redis.quit();
      await proxy.close();
    }
    await verifyNone({ baseline: base });
  });
});
