// leashjs/resilience benchmarks beside cockatiel and opossum, in the same process and the same run.
// Run: npm run build, then in bench/: npm run resilience   (needs Redis at 127.0.0.1:6379 for the
//      last table; set REDIS=0 to skip it, ONLY=redis to run it alone). The leash cases import the
//      build (dist/), what users run: through tsx, the source is transformed with esbuild's
//      keepNames, which wraps every closure made per call in a __name() call that defines a
//      property, a cost no user pays (__name alone was a tenth of the CPU profile of these cases).
//
// Every call is awaited one after another (the cost of a call as a handler sees it), with a
// function that returns an already-resolved promise, so what is measured is each library's
// overhead. Goals (issue 12): closed breaker + bulkhead + context check <= 300 ns and faster than
// cockatiel's pair; timeout <= 1 us; wrap of timeout, retry, breaker, bulkhead <= 2 us; failure
// path <= 1 us plus the error; memory per breaker <= 1 KB; Redis limiter >= 20k decisions/s.
import {
  ConsecutiveBreaker,
  circuitBreaker as cBreaker,
  bulkhead as cBulkhead,
  retry as cRetry,
  timeout as cTimeout,
  wrap as cWrap,
  ExponentialBackoff,
  handleAll,
  TimeoutStrategy,
} from 'cockatiel';
import CircuitBreaker from 'opossum';
import { background, type Context, withCancel } from '../dist/context/index.js';
import {
  bulkhead,
  circuitBreaker,
  exponentialBackoff,
  redisRateLimiter,
  retry,
  timeout,
  wrap,
} from '../dist/resilience/index.js';
import { GCRA } from '../dist/resilience/redis-rate-limiter.js';
import { fmt, header, interleave, type Result } from './harness.js';

const ROUNDS = Number(process.env.ROUNDS ?? 11);
const RESOLVED = Promise.resolve(1);
const ok = (): Promise<number> => RESOLVED;
const err = new Error('down');
const failing = (): Promise<number> => Promise.reject(err);
let sink = 0;

// A long-lived request context, as a handler has: the "context check" of the goal.
const [ctx] = withCancel(background()) as [Context, () => void];
const controller = new AbortController();
const signal = controller.signal;

function seq(call: () => Promise<unknown>): (n: number) => Promise<void> {
  return async (n) => {
    for (let i = 0; i < n; i++) sink += ((await call()) as number) ?? 0;
  };
}
function seqFail(call: () => Promise<unknown>): (n: number) => Promise<void> {
  return async (n) => {
    for (let i = 0; i < n; i++) {
      try {
        await call();
      } catch {
        sink++;
      }
    }
  };
}

function table(
  title: string,
  results: Result[],
  goal?: { ns: number; of: string },
  notes: string[] = [],
): void {
  header(title);
  const base = results[0] as Result;
  for (const r of results) {
    const rel = r === base ? '' : `  ${(r.nsPerOp / base.nsPerOp).toFixed(2)}x ${base.name}`;
    console.log(`${r.name.padEnd(58)} ${fmt(r)}${rel}`);
  }
  if (goal) {
    const r = results.find((x) => x.name === goal.of) as Result;
    console.log(
      `goal: ${goal.of} <= ${goal.ns} ns/op: ${r.nsPerOp <= goal.ns ? 'met' : `MISSED by ${(r.nsPerOp - goal.ns).toFixed(0)} ns`}`,
    );
  }
  for (const n of notes) console.log(n);
}

// ONLY=redis runs the Redis table alone.
if (process.env.ONLY !== 'redis') {
  // --- closed breaker + bulkhead + context check --------------------------------------------------
  const leashPair = wrap(circuitBreaker({ window: { calls: 100 } }), bulkhead({ limit: 100 }));
  const cockatielPair = cWrap(
    cBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
    cBulkhead(100),
  );
  const opossumBreaker = new CircuitBreaker(ok, { timeout: false, capacity: 100 });
  const pair = await interleave(
    [
      { name: 'bare await fn() (floor)', run: seq(ok) },
      { name: 'leash wrap(breaker, bulkhead).execute(ctx, fn)', run: seq(() => leashPair.execute(ctx, ok)) },
      {
        name: 'cockatiel wrap(breaker, bulkhead).execute(fn, signal)',
        run: seq(() => cockatielPair.execute(ok, signal)),
      },
      {
        name: 'opossum breaker.fire() (capacity, no timeout)',
        run: seq(() => opossumBreaker.fire()),
        ops: 50_000,
      },
    ],
    { rounds: ROUNDS },
  );
  const lp = pair[1] as Result;
  const cp = pair[2] as Result;
  table('closed breaker + bulkhead + context check', pair, { ns: 300, of: lp.name }, [
    `goal: faster than cockatiel's pair: ${lp.nsPerOp < cp.nsPerOp ? 'met' : 'MISSED'} (${(cp.nsPerOp / lp.nsPerOp).toFixed(2)}x)`,
  ]);

  // --- timeout ------------------------------------------------------------------------------------
  const lt = timeout(1_000);
  const ct = cTimeout(1_000, TimeoutStrategy.Cooperative);
  const ctA = cTimeout(1_000, TimeoutStrategy.Aggressive);
  const opossumTimeout = new CircuitBreaker(ok, { timeout: 1_000 });
  const tres = await interleave(
    [
      { name: 'leash timeout(1000).execute(ctx, fn)', run: seq(() => lt.execute(ctx, ok)) },
      {
        name: 'cockatiel timeout(1000, Cooperative).execute(fn)',
        run: seq(() => ct.execute(ok, signal)),
        ops: 50_000,
      },
      {
        name: 'cockatiel timeout(1000, Aggressive).execute(fn)',
        run: seq(() => ctA.execute(ok, signal)),
        ops: 50_000,
      },
      {
        name: 'opossum breaker({ timeout: 1000 }).fire()',
        run: seq(() => opossumTimeout.fire()),
        ops: 20_000,
      },
    ],
    { rounds: ROUNDS },
  );
  table('timeout', tres, { ns: 1_000, of: (tres[0] as Result).name });

  // --- wrap of timeout, retry, breaker, bulkhead --------------------------------------------------
  const lw = wrap(
    retry({ maxAttempts: 3, backoff: exponentialBackoff() }),
    circuitBreaker(),
    bulkhead({ limit: 100 }),
    timeout(1_000),
  );
  const cw = cWrap(
    cRetry(handleAll, { maxAttempts: 3, backoff: new ExponentialBackoff() }),
    cBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
    cBulkhead(100),
    cTimeout(1_000, TimeoutStrategy.Cooperative),
  );
  const wres = await interleave(
    [
      { name: 'leash wrap(retry, breaker, bulkhead, timeout)', run: seq(() => lw.execute(ctx, ok)) },
      {
        name: 'cockatiel wrap(retry, breaker, bulkhead, timeout)',
        run: seq(() => cw.execute(ok, signal)),
        ops: 50_000,
      },
    ],
    { rounds: ROUNDS },
  );
  table('wrap of four policies (success path)', wres, { ns: 2_000, of: (wres[0] as Result).name });

  // --- failure path -------------------------------------------------------------------------------
  const lOpen = circuitBreaker();
  lOpen.forceOpen();
  const lOpenTimed = circuitBreaker({ window: { calls: 5 }, minimumCalls: 5, openMs: 3_600_000 });
  for (let i = 0; i < 5; i++) await lOpenTimed.execute(ctx, failing).catch(() => {});
  const cOpen = cBreaker(handleAll, { halfOpenAfter: 3_600_000, breaker: new ConsecutiveBreaker(1) });
  await cOpen.execute(failing).catch(() => {});
  const oOpen = new CircuitBreaker(failing, { timeout: false, resetTimeout: 3_600_000 });
  oOpen.open();
  oOpen.on('failure', () => {});
  const lClosedFail = circuitBreaker({ failureRate: 1, window: { calls: 100 }, minimumCalls: 100 });
  let flip = 0;
  // Failures interleaved with successes so the closed breaker never opens.
  const sometimesFailing = (): Promise<number> => ((flip++ & 1) === 0 ? failing() : ok());
  const cClosedFail = cBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(3) });
  const fres = await interleave(
    [
      {
        name: 'floor: await a rejected promise in try/catch',
        run: seqFail(() => Promise.reject(err)),
      },
      {
        name: 'leash open breaker (after failures) rejects',
        run: seqFail(() => lOpenTimed.execute(ctx, ok)),
      },
      { name: 'leash forced-open breaker rejects', run: seqFail(() => lOpen.execute(ctx, ok)) },
      { name: 'cockatiel open breaker rejects', run: seqFail(() => cOpen.execute(ok)), ops: 20_000 },
      { name: 'opossum open breaker rejects', run: seqFail(() => oOpen.fire()), ops: 5_000 },
      {
        name: 'leash closed breaker, half the calls fail',
        run: seqFail(() => lClosedFail.execute(ctx, sometimesFailing)),
      },
      {
        name: 'cockatiel closed breaker, half the calls fail',
        run: seqFail(() => cClosedFail.execute(sometimesFailing)),
        ops: 50_000,
      },
    ],
    { rounds: ROUNDS },
  );
  const floorFail = (fres[0] as Result).nsPerOp;
  const leashOpen = (fres[1] as Result).nsPerOp;
  for (const b of [opossumBreaker, opossumTimeout, oOpen]) b.shutdown();
  table('failure path', fres, undefined, [
    "(cockatiel and opossum build a new error per rejected call; leash's open breaker shares one per opening)",
    `goal: leash open breaker <= 1000 ns above the floor of awaiting a rejection: ${leashOpen - floorFail <= 1000 ? 'met' : 'MISSED'} (${(leashOpen - floorFail).toFixed(0)} ns above)`,
  ]);

  // --- memory per breaker -------------------------------------------------------------------------
  const gc = (globalThis as { gc?: () => void }).gc;
  function perInstance(make: () => unknown, n = 20_000): number {
    const keep: unknown[] = new Array(n);
    gc?.();
    gc?.();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < n; i++) keep[i] = make();
    gc?.();
    gc?.();
    const after = process.memoryUsage().heapUsed;
    sink += keep.length;
    return (after - before) / n;
  }
  header('memory per breaker (heap bytes per instance, 20k live)');
  const mem = [
    ['leash circuitBreaker() (count window of 100)', perInstance(() => circuitBreaker())],
    [
      'leash circuitBreaker({ window: { ms: 10000 } }) (10 buckets)',
      perInstance(() => circuitBreaker({ window: { ms: 10_000 } })),
    ],
    [
      'cockatiel circuitBreaker(ConsecutiveBreaker)',
      perInstance(() => cBreaker(handleAll, { halfOpenAfter: 1_000, breaker: new ConsecutiveBreaker(5) })),
    ],
    [
      'opossum new CircuitBreaker(fn)',
      perInstance(() => {
        const b = new CircuitBreaker(ok);
        b.shutdown(); // stop its rolling-window interval (it would otherwise run forever)
        return b;
      }, 5_000),
    ],
  ] as const;
  for (const [name, bytes] of mem) console.log(`${name.padEnd(58)} ${bytes.toFixed(0).padStart(8)} B`);
  console.log(`goal: leash breaker <= 1024 B: ${(mem[0][1] as number) <= 1024 ? 'met' : 'MISSED'}`);
}

// --- Redis limiter ------------------------------------------------------------------------------
if (process.env.REDIS !== '0') {
  const { Redis } = await import('ioredis');
  // Auto-pipelining writes every command issued in one tick in one write: the setting to use for a
  // limiter called from many concurrent requests.
  const redis = new Redis({ host: '127.0.0.1', port: 6379, enableAutoPipelining: true });
  const name = `bench-${process.pid}`;
  const limiter = redisRateLimiter({
    redis,
    name,
    rate: 1e9,
    perMs: 1_000,
    onStoreError: 'reject',
    storeTimeoutMs: 1_000,
  });
  await limiter.take(ctx);
  header('redisRateLimiter (127.0.0.1:6379, one connection)');
  for (const concurrency of [1, 64, 256]) {
    const lat: number[] = [];
    let decisions = 0;
    const end = performance.now() + 2_000;
    const worker = async (): Promise<void> => {
      while (performance.now() < end) {
        const t = performance.now();
        await limiter.take(ctx);
        lat.push(performance.now() - t);
        decisions++;
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: concurrency }, worker));
    const secs = (performance.now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    const q = (p: number): string => (lat[Math.floor(p * (lat.length - 1))] as number).toFixed(3);
    console.log(
      `in flight ${String(concurrency).padStart(3)}: ${(decisions / secs).toFixed(0).padStart(7)} decisions/s  p50 ${q(0.5)} ms  p99 ${q(0.99)} ms`,
    );
  }
  // The floor of throughput: the same script by EVALSHA straight from ioredis, 256 in flight.
  {
    const key = `leash:ratelimit:{${name}-raw}`;
    let raw = 0;
    const end = performance.now() + 2_000;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 256 }, async () => {
        while (performance.now() < end) {
          await redis.evalsha(GCRA.sha, 1, key, '0.000001', '1000000000');
          raw++;
        }
      }),
    );
    console.log(
      `floor: raw EVALSHA from ioredis, in flight 256: ${(raw / ((performance.now() - t0) / 1000)).toFixed(0).padStart(7)} /s`,
    );
    await redis.del(key);
  }
  // The floor: a bare PING round trip on the same connection.
  const pl: number[] = [];
  for (let i = 0; i < 5_000; i++) {
    const t = performance.now();
    await redis.ping();
    pl.push(performance.now() - t);
  }
  pl.sort((a, b) => a - b);
  console.log(
    `bare PING, in flight 1: p50 ${pl[2500]?.toFixed(3)} ms  p99 ${pl[4950]?.toFixed(3)} ms (the added latency is take - PING)`,
  );
  await redis.del(limiter.redisKey());
  redis.disconnect();
}
console.log(`\nNode ${process.version}; sink ${sink > 0 ? 'ok' : 'empty'}`);
