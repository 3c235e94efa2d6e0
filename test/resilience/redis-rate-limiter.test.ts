// redisRateLimiter against real Redis: one server at 127.0.0.1:6379, a 3-node Redis Cluster this
// test starts on free local ports, and a TCP proxy the test cuts mid-run. Skipped when
// LEASH_TEST_REDIS=0 (scripts/run-tests.mjs sets it when Redis does not answer).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Cluster, Redis } from 'ioredis';
import { background, withTimeout } from '../../src/context/index.js';
import { RateLimitedError, RateLimitStoreError, redisRateLimiter } from '../../src/resilience/index.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { startCluster } from './redis-cluster.js';

const skip = process.env.LEASH_TEST_REDIS === '0' ? 'Redis is not available (LEASH_TEST_REDIS=0)' : false;
const bg = background();
const hammer = fileURLToPath(new URL('./fixtures/redis-hammer.ts', import.meta.url));

function runHammer(
  env: Record<string, string>,
): Promise<{ admitted: number; decisions: number; storeErrors: number; lateMs: number }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', hammer],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout));
      },
    );
  });
}

/** Four processes hammer one limit for `durationMs`; the total admitted must respect GCRA. */
async function fourProcesses(ports: number[], name: string): Promise<void> {
  const rate = 200;
  const perMs = 1_000;
  const burst = 20;
  const durationMs = 1_500;
  const startAt = Date.now() + 10_000; // every process started, connected and warmed up by then (a loaded machine is slow)
  const env = {
    REDIS_PORTS: ports.join(','),
    NAME: name,
    RATE: String(rate),
    PER_MS: String(perMs),
    BURST: String(burst),
    START_AT: String(startAt),
    DURATION_MS: String(durationMs),
  };
  const results = await Promise.all([1, 2, 3, 4].map(() => runHammer(env)));
  const admitted = results.reduce((n, r) => n + r.admitted, 0);
  const decisions = results.reduce((n, r) => n + r.decisions, 0);
  assert.equal(
    results.reduce((n, r) => n + r.storeErrors, 0),
    0,
    'no store errors',
  );
  // GCRA over the window (plus the last in-flight decisions' round trips): burst + rate * time.
  const bound = burst + Math.ceil((rate * (durationMs + 100)) / perMs);
  assert.ok(admitted <= bound, `admitted ${admitted} > ${bound} (of ${decisions} decisions)`);
  assert.ok(decisions > admitted * 3, `the limit must bind: ${decisions} decisions, ${admitted} admitted`);
  assert.ok(admitted >= ((rate * durationMs) / perMs) * 0.8, `admitted ${admitted}: the full rate is used`);
  for (const r of results) assert.ok(r.admitted > 0, 'every process got a share');
}

describe('redisRateLimiter on Redis', { skip }, () => {
  let redis: Redis;
  before(() => {
    redis = new Redis({ host: '127.0.0.1', port: 6379 });
  });
  after(() => redis.disconnect());

  test('admits a burst, then rejects with RateLimitedError and retryAfterMs; the key has a hash tag', async () => {
    const name = `t-${randomUUID()}`;
    const rl = redisRateLimiter({ redis, name, rate: 5, perMs: 1_000, burst: 3, onStoreError: 'reject' });
    await redis.script('FLUSH'); // the first call loads the script after NOSCRIPT
    for (let i = 0; i < 3; i++) assert.equal(await rl.execute(bg, async () => i), i);
    const e = await rl.execute(bg, async () => 'no').catch((x) => x);
    assert.ok(e instanceof RateLimitedError, String(e));
    assert.ok(e.retryAfterMs > 150 && e.retryAfterMs <= 200, `retryAfterMs ${e.retryAfterMs}`);
    assert.equal(rl.redisKey(), `leash:ratelimit:{${name}}`);
    const ttl = await redis.pttl(rl.redisKey());
    assert.ok(ttl > 0 && ttl <= 601, `the key expires when the bucket is full again (${ttl})`);
    // Per-key buckets.
    const perKey = redisRateLimiter({
      redis,
      name,
      rate: 1,
      perMs: 60_000,
      burst: 1,
      onStoreError: 'reject',
      key: () => 'k',
    });
    assert.equal(await perKey.take(bg, 'a'), 0);
    assert.ok((await perKey.take(bg, 'a')) > 59_000);
    assert.equal(await perKey.take(bg, 'b'), 0);
    await redis.del(rl.redisKey(), perKey.redisKey('a'), perKey.redisKey('b'));
  });

  test('a caller whose context ends gets ctx.err at once', async () => {
    const rl = redisRateLimiter({ redis, name: `t-${randomUUID()}`, rate: 5, onStoreError: 'allow' });
    const [ctx, cancel] = withTimeout(bg, 1_000);
    cancel();
    await assert.rejects(
      rl.execute(ctx, async () => 1),
      (e) => e === ctx.err,
    );
  });

  test('4 processes hammering one key admit no more than GCRA allows', { timeout: 60_000 }, async () => {
    const name = `hammer-${randomUUID()}`;
    await fourProcesses([6379], name);
    await redis.del(`leash:ratelimit:{${name}}`);
  });

  test('Redis cut mid-run: every call follows onStoreError within its deadline', {
    timeout: 30_000,
  }, async () => {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
    const client = new Redis({ host: '127.0.0.1', port: proxy.port, maxRetriesPerRequest: 1 });
    client.on('error', () => {}); // reconnect errors while the proxy is down
    try {
      const name = `cut-${randomUUID()}`;
      const make = (onStoreError: 'allow' | 'reject' | 'local') =>
        redisRateLimiter({
          redis: client,
          name,
          rate: 1,
          perMs: 60_000,
          burst: 2,
          onStoreError,
          storeTimeoutMs: 50,
        });
      const allow = make('allow');
      const reject = make('reject');
      const local = make('local');
      assert.equal(await allow.execute(bg, async () => 'up'), 'up');
      proxy.down();
      proxy.cut();
      for (let i = 0; i < 5; i++) {
        const [ctx, cancel] = withTimeout(bg, 300);
        const t0 = performance.now();
        assert.equal(await allow.execute(ctx, async () => 'allowed'), 'allowed');
        await assert.rejects(
          reject.execute(ctx, async () => 'no'),
          (e) =>
            e instanceof RateLimitStoreError &&
            !(e instanceof RateLimitedError) &&
            e.code === 'LEASH_ERR_RATE_LIMIT_STORE',
        );
        const elapsed = performance.now() - t0;
        assert.ok(elapsed < 300, `decided within the deadline (${elapsed} ms for two calls)`);
        assert.equal(ctx.err, undefined, 'before the caller deadline');
        cancel();
      }
      // 'local' decides with a local GCRA of the same rate: burst 2, then limited.
      const [ctx, cancel] = withTimeout(bg, 1_000);
      assert.equal(await local.execute(ctx, async () => 1), 1);
      assert.equal(await local.execute(ctx, async () => 2), 2);
      await assert.rejects(
        local.execute(ctx, async () => 3),
        RateLimitedError,
      );
      cancel();
      // A caller deadline shorter than storeTimeoutMs: the caller gets its own ctx.err at its deadline.
      const [short] = withTimeout(bg, 10);
      const t0 = performance.now();
      await assert.rejects(
        allow.execute(short, async () => 'x'),
        (e) => e === short.err,
      );
      assert.ok(performance.now() - t0 < 45);
      // Back up: decisions come from Redis again.
      proxy.up();
      for (let i = 0; ; i++) {
        try {
          await client.ping();
          break;
        } catch {
          if (i > 100) throw new Error('the client did not reconnect');
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      // ioredis's offline queue may now send the calls that timed out, and Redis counts them: that
      // errs on the side of the limit. A fresh limit shows decisions come from Redis again.
      const back = redisRateLimiter({
        redis: client,
        name: `${name}-back`,
        rate: 1,
        perMs: 60_000,
        burst: 1,
        onStoreError: 'allow',
      });
      assert.equal(await back.execute(bg, async () => 'back'), 'back');
      await assert.rejects(
        back.execute(bg, async () => 'over'),
        RateLimitedError,
      );
      await client.del(back.redisKey());
      await client.del(`leash:ratelimit:{${name}}`);
    } finally {
      client.disconnect();
      await proxy.close();
    }
  });
});

describe('redisRateLimiter on a 3-node Redis Cluster', { skip }, () => {
  test('4 processes hammering one key admit no more than GCRA allows', { timeout: 120_000 }, async () => {
    const cluster = await startCluster(3);
    try {
      const client = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
      try {
        const rl = redisRateLimiter({
          redis: client,
          name: 'smoke',
          rate: 2,
          perMs: 60_000,
          burst: 1,
          onStoreError: 'reject',
        });
        assert.equal(await rl.take(bg), 0);
        assert.ok((await rl.take(bg)) > 0);
        // Per-key limits spread across slots, and each runs on the node that owns it.
        for (let i = 0; i < 20; i++) assert.equal(await rl.take(bg, `k${i}`), 0);
      } finally {
        client.disconnect();
      }
      await fourProcesses(cluster.ports, `hammer-${randomUUID()}`);
    } finally {
      await cluster.stop();
    }
  });
});
