// leashjs/pg benchmarks. Run: npm run build at the root, then cd bench && npm run pg. Needs PostgreSQL
// on 127.0.0.1:5432 (user postgres, database test; PG* variables override).
// Environment: BENCH_SECONDS (per measured run, default 2), BENCH_ROUNDS (default 5),
// BENCH_CONCURRENCY (default 500), BENCH_POOL (pool size, default 20), BENCH_CANCELS (default 200).
//
// 1. Throughput: BENCH_CONCURRENCY workers each run short queries back to back on one pool, for
//    BENCH_SECONDS, in interleaved rounds; queries/s per variant, median round, ratio to plain pg:
//    - plain pool.query (the baseline);
//    - leash query(ctx, pool, ...) under a 5 s deadline (statement_timeout in the same round trip);
//    - the same without a deadline (no statement_timeout);
//    - "three round trips": SET statement_timeout, the query, RESET on a checked-out client, which is
//      what leash did before (the cost issue 10 measured), for reference.
//    Each variant runs the parameterless text, a parameterized statement and a 5 ms statement
//    (latency-bound: what the pool's hold time per query costs). Printed: queries/s and this
//    process's CPU time per query, median round. Goal: leash under a deadline >= 95% of plain.
// 2. Cancel latency under that load: queries running pg_sleep(10) on a second pool are cancelled
//    (plain cancel, and by deadline) while the throughput workers keep the server busy; time from the
//    cancel (or from the moment the deadline timer fired) to the promise settling, p50/p99/max, and
//    the deadline timer's own lateness (event-loop lag, which no library avoids). Goal: p99 <= 50 ms.
// 3. The service workload issue 10 measured (pg-service-server.ts): node:http answering each request
//    with pg_sleep(0.015) on a pool of 10, autocannon -c 500, plain pg against leash's withContext
//    (5 s deadline) + query, each in its own process, rounds interleaved. Goal: leash >= 95% of plain.
//    BENCH_SERVICE_SQL, BENCH_SERVICE_POOL, BENCH_SERVICE_CONNECTIONS change it;
//    BENCH_SERVICE_VARIANTS=plain,plain-ctx,leash adds a control: withContext with plain pool.query.
// BENCH_PART=throughput|cancel|service runs one part.
//
// The machine this was written on has 2 cores shared with other work: absolute numbers are low and
// noisy; compare ratios within one run, and re-run before believing one.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { background, withCancel, withTimeout } from 'leashjs';
import { query } from 'leashjs/pg';
import pg from 'pg';
import { startServerProcess } from './harness.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 2);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 500);
const poolSize = Number(process.env.BENCH_POOL ?? 20);
const cancels = Number(process.env.BENCH_CANCELS ?? 200);
const config = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? 'postgres',
  database: process.env.PGDATABASE ?? 'test',
};

type Op = (pool: pg.Pool, i: number) => Promise<unknown>;
interface Workload {
  readonly name: string;
  readonly text: string;
  readonly values: (i: number) => unknown[] | undefined;
}
const workloads: Workload[] = [
  { name: 'text', text: 'SELECT 1 AS n', values: () => undefined },
  { name: 'param', text: 'SELECT $1::int + 1 AS n', values: (i) => [i] },
  // Latency-bound rather than CPU-bound: the pool's hold time per query is what round trips cost.
  { name: 'sleep', text: 'SELECT pg_sleep(0.005) AS n', values: () => undefined },
];

function variants(w: Workload): Array<[string, Op]> {
  return [
    ['plain pool.query', (pool, i) => pool.query(w.text, w.values(i))],
    [
      'leash query, 5 s deadline',
      async (pool, i) => {
        const [ctx, cancel] = withTimeout(background(), 5_000);
        try {
          return await query(ctx, pool, w.text, w.values(i));
        } finally {
          cancel();
        }
      },
    ],
    ['leash query, no deadline', (pool, i) => query(background(), pool, w.text, w.values(i))],
    [
      'three round trips (SET; query; RESET)',
      async (pool, i) => {
        const c = await pool.connect();
        try {
          await c.query('SET statement_timeout = 5000');
          const r = await c.query(w.text, w.values(i));
          await c.query('RESET statement_timeout');
          return r;
        } finally {
          c.release();
        }
      },
    ],
  ];
}

/** load runs `op` from `concurrency` workers until stop() and counts completions. */
function load(pool: pg.Pool, op: Op, workers: number) {
  let running = true;
  let done = 0;
  let errors = 0;
  const all = Array.from({ length: workers }, async (_, w) => {
    let i = w;
    while (running) {
      try {
        await op(pool, i++);
        done++;
      } catch {
        errors++;
      }
    }
  });
  return {
    get done() {
      return done;
    },
    get errors() {
      return errors;
    },
    async stop() {
      running = false;
      await Promise.all(all);
    },
  };
}

const execFileAsync = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
}

async function throughput(): Promise<void> {
  console.log(
    `\n## Throughput: ${concurrency} concurrent workers, pool of ${poolSize}, ${seconds} s x ${rounds} rounds (median)`,
  );
  for (const w of workloads) {
    const vs = variants(w);
    const pools = vs.map(() => new pg.Pool({ ...config, max: poolSize }));
    // Warm up: open every connection, let the JIT settle.
    for (const [k, [, op]] of vs.entries()) {
      const l = load(pools[k]!, op, concurrency);
      await sleep(300);
      await l.stop();
    }
    const qps: number[][] = vs.map(() => []);
    const cpu: number[][] = vs.map(() => []);
    for (let r = 0; r < rounds; r++) {
      for (const [k, [, op]] of vs.entries()) {
        const l = load(pools[k]!, op, concurrency);
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        await sleep(seconds * 1000);
        const n = l.done;
        const c = process.cpuUsage(c0);
        const t1 = performance.now();
        await l.stop();
        if (l.errors > 0) console.log(`  ${vs[k]![0]}: ${l.errors} errors`);
        qps[k]!.push(n / ((t1 - t0) / 1000));
        cpu[k]!.push((c.user + c.system) / Math.max(1, n));
      }
    }
    const base = median(qps[0]!);
    console.log(`\n### ${w.name}: ${JSON.stringify(w.text)}`);
    for (const [k, [name]] of vs.entries()) {
      const m = median(qps[k]!);
      const ratio = k === 0 ? '' : `  ${((m / base) * 100).toFixed(1)}% of plain`;
      const us = median(cpu[k]!).toFixed(1);
      console.log(
        `${name.padEnd(40)} ${m.toFixed(0).padStart(8)} queries/s ${us.padStart(7)} µs CPU/query (this process)${ratio}`,
      );
    }
    const leash = median(qps[1]!);
    console.log(
      `goal: leash under a deadline >= 95% of plain: ${leash >= 0.95 * base ? 'met' : 'MISSED'} (${((leash / base) * 100).toFixed(1)}%)`,
    );
    await Promise.all(pools.map((p) => p.end()));
  }
}

async function cancelLatency(): Promise<void> {
  console.log(
    `\n## Cancel latency under load: ${cancels} cancelled pg_sleep(10), ${concurrency} workers running plain SELECT 1 meanwhile`,
  );
  const busy = new pg.Pool({ ...config, max: poolSize });
  const victims = new pg.Pool({ ...config, max: 10 });
  await Promise.all(Array.from({ length: 10 }, () => victims.query('SELECT 1')));
  const l = load(busy, (pool) => pool.query('SELECT 1'), concurrency);
  await sleep(300);
  const byCancel: number[] = [];
  const byDeadline: number[] = [];
  const timerLate: number[] = []; // the deadline timer's own lateness: event-loop lag, not pg
  const one = async (i: number) => {
    if (i % 2 === 0) {
      const [ctx, cancel] = withCancel(background());
      const p = query(ctx, victims, 'SELECT pg_sleep(10)').catch(() => {});
      await sleep(20 + (i % 7) * 5);
      const t0 = performance.now();
      cancel();
      await p;
      byCancel.push(performance.now() - t0);
    } else {
      const ms = 20 + (i % 7) * 5;
      const t0 = performance.now();
      const [ctx, cancel] = withTimeout(background(), ms);
      let ended = 0;
      ctx.signal.addEventListener('abort', () => (ended = performance.now()));
      await query(ctx, victims, 'SELECT pg_sleep(10)').catch(() => {});
      const t1 = performance.now();
      byDeadline.push(t1 - ended);
      timerLate.push(ended - t0 - ms);
      cancel();
    }
  };
  for (let i = 0; i < cancels; i += 10) await Promise.all(Array.from({ length: 10 }, (_, k) => one(i + k)));
  await l.stop();
  await Promise.all([busy.end(), victims.end()]);
  for (const [name, xs] of [
    ['cancel() -> settled', byCancel],
    ['deadline fired -> settled', byDeadline],
    ['(deadline timer lateness)', timerLate],
  ] as const) {
    console.log(
      `${name.padEnd(28)} p50 ${pct(xs, 50).toFixed(1)} ms  p99 ${pct(xs, 99).toFixed(1)} ms  max ${Math.max(...xs).toFixed(1)} ms  (n=${xs.length})`,
    );
  }
  const p99 = pct([...byCancel, ...byDeadline], 99);
  console.log(
    'the timer lateness is event-loop lag under this load; it delays any timer, with or without leash',
  );
  console.log(`goal: p99 <= 50 ms: ${p99 <= 50 ? 'met' : 'MISSED'} (${p99.toFixed(1)} ms)`);
}

// ---- 3. the service workload ----

const autocannonBin = fileURLToPath(new URL('./node_modules/autocannon/autocannon.js', import.meta.url));
const serviceScript = fileURLToPath(new URL('./pg-service-server.ts', import.meta.url));
const serviceConnections = Number(process.env.BENCH_SERVICE_CONNECTIONS ?? 500);
const serviceSql = process.env.BENCH_SERVICE_SQL ?? 'SELECT pg_sleep(0.015) AS slept';

async function serviceRun(
  variant: string,
  seconds: number,
): Promise<{ rps: number; p99: number; cpuUs: number }> {
  const server = await startServerProcess(process.execPath, [
    '--import',
    'tsx',
    serviceScript,
    variant,
    serviceSql,
  ]);
  try {
    const url = server.url;
    const cannon = async (s: number) => {
      const { stdout } = await execFileAsync(
        process.execPath,
        [autocannonBin, '-j', '-c', String(serviceConnections), '-d', String(s), url],
        { maxBuffer: 64 * 1024 * 1024 },
      );
      return JSON.parse(stdout) as {
        requests: { average: number; total: number };
        latency: { p99: number };
        non2xx: number;
        errors: number;
      };
    };
    await cannon(1); // warm-up: connections, JIT
    const before = await server.cpuUs();
    const r = await cannon(seconds);
    const after = await server.cpuUs();
    if (r.non2xx > 0 || r.errors > 0) console.log(`  ${variant}: ${r.non2xx} non-2xx, ${r.errors} errors`);
    return {
      rps: r.requests.average,
      p99: r.latency.p99,
      cpuUs: (after - before) / Math.max(1, r.requests.total),
    };
  } finally {
    await server.stop();
  }
}

/**
 * The workload issue 10 measured: a node:http service answering each request with one statement on
 * a pool of 10 (pg_sleep(0.015) by default: the pool, not the CPU, is the bottleneck, as in a service
 * whose database does real work), under autocannon with 500 connections. Plain pg against leash
 * (withContext with a 5 s deadline, query under it: statement_timeout on every statement), each
 * server in its own process, rounds interleaved.
 */
async function service(): Promise<void> {
  const s = Math.max(2, seconds);
  console.log(
    `\n## The service workload: node:http + ${JSON.stringify(serviceSql)} on a pool of ${process.env.BENCH_SERVICE_POOL ?? 10}, autocannon -c ${serviceConnections}, ${s} s x ${rounds} rounds (median)`,
  );
  const variants = (process.env.BENCH_SERVICE_VARIANTS ?? 'plain,leash').split(',');
  const runs: Record<string, { rps: number; p99: number; cpuUs: number }[]> = Object.fromEntries(
    variants.map((v) => [v, []]),
  );
  for (let r = 0; r < rounds; r++) {
    for (const v of r % 2 === 0 ? variants : [...variants].reverse()) runs[v]!.push(await serviceRun(v, s));
  }
  const base = median(runs.plain!.map((x) => x.rps));
  for (const v of variants) {
    const rps = median(runs[v]!.map((x) => x.rps));
    const ratio = v === 'plain' ? '' : `  ${((rps / base) * 100).toFixed(1)}% of plain`;
    console.log(
      `${(v === 'plain' ? 'plain pool.query' : v === 'leash' ? 'leash withContext + query, 5 s deadline' : v).padEnd(40)} ${rps.toFixed(0).padStart(7)} req/s  p99 ${median(runs[v]!.map((x) => x.p99)).toFixed(0)} ms  ${median(runs[v]!.map((x) => x.cpuUs)).toFixed(0)} µs server CPU/request${ratio}  (rounds: ${runs[v]!.map((x) => x.rps.toFixed(0)).join(', ')})`,
    );
  }
  if (!runs.leash || !runs.plain) return;
  const leash = median(runs.leash.map((x) => x.rps));
  console.log(
    `goal: leash >= 95% of plain on the service workload: ${leash >= 0.95 * base ? 'met' : 'MISSED'} (${((leash / base) * 100).toFixed(1)}%)`,
  );
}

console.log(
  `node ${process.version}, pg ${(await import('pg/package.json', { with: { type: 'json' } })).default.version}`,
);
const part = process.env.BENCH_PART;
if (part === undefined || part === 'throughput') await throughput();
if (part === undefined || part === 'cancel') await cancelLatency();
if (part === undefined || part === 'service') await service();
