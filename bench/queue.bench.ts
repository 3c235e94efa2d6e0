// leashjs/queue beside BullMQ, against the same Redis, in the same process and run; and the memory
// backend alone. Run: in bench/: npm run queue   (needs Redis at 127.0.0.1:6379; REDIS=0 runs the
// memory table only). The leash cases import the source (src/queue) through tsx.
//
// Throughput is wall clock (the work is split between this process and Redis, so CPU time of one
// process says little); rounds are interleaved (leash, BullMQ, leash, ...) and the median round is
// reported with its spread. Goals (issue 14): enqueue at least BullMQ's add and addBulk rates;
// process at least 3x BullMQ's at concurrency 16; p99 enqueue-to-start reported beside BullMQ's;
// the memory backend at least 1M jobs/s through one worker.
import { Queue as BullQueue, Worker as BullWorker } from 'bullmq';
import { Redis } from 'ioredis';
import { background } from 'leashjs';
import { createQueue, memoryBackend, redisStreams } from 'leashjs/queue';
import { median } from './harness.js';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const JOBS = Number(process.env.JOBS ?? 5000);
const connection = { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null };
let seq = 0;

interface Row {
  name: string;
  rates: number[];
}

function report(title: string, rows: Row[], ref?: string, goal?: { x: number; of: string }): void {
  console.log(`\n## ${title}`);
  const med = new Map(rows.map((r) => [r.name, median(r.rates)]));
  for (const r of rows) {
    const m = med.get(r.name) as number;
    const spread = `[${Math.min(...r.rates).toFixed(0)}..${Math.max(...r.rates).toFixed(0)}]`;
    let note = '';
    if (ref !== undefined && r.name !== ref) {
      const x = m / (med.get(ref) as number);
      note = `  ${x.toFixed(2)}x ${ref}`;
      if (goal !== undefined && r.name === goal.of)
        note += ` (goal >= ${goal.x}x: ${x >= goal.x ? 'met' : 'MISSED'})`;
    }
    console.log(`${r.name.padEnd(52)} ${m.toFixed(0).padStart(9)} jobs/s ${spread}${note}`);
  }
}

// Redis's own CPU time so far (INFO cpu: user + system of the server process), in µs: the
// processing rows also say how much Redis work each job cost, and how busy Redis was.
async function redisCpuUs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const read = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? Number.NaN);
  return (read('used_cpu_user') + read('used_cpu_sys')) * 1e6;
}
// Redis's time per command (INFO commandstats, usec), summed over the leash processing rounds:
// which commands a processed job costs Redis, and how much (commands inside scripts included).
async function commandUs(redis: Redis): Promise<Map<string, { calls: number; usec: number }>> {
  const out = new Map<string, { calls: number; usec: number }>();
  for (const m of (await redis.info('commandstats')).matchAll(/cmdstat_(\w+):calls=(\d+),usec=(\d+)/g))
    out.set(m[1] as string, { calls: Number(m[2]), usec: Number(m[3]) });
  return out;
}
const leashCommands = new Map<string, { calls: number; usec: number }>();
let leashProcessed = 0;
const redisCpu = new Map<string, number[]>([
  ['BullMQ', []],
  ['leash', []],
  ['leash, prefetch off', []],
]);

async function cleanup(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}

async function leashEnqueue(redis: Redis, n: number, batch: number): Promise<number> {
  const name = `bench-${process.pid}-${seq++}`;
  const q = createQueue<{ i: number }>({ name, backend: redisStreams({ redis }) });
  const t0 = performance.now();
  for (let i = 0; i < n; i += batch)
    if (batch === 1) await q.enqueue(background(), { i });
    else await Promise.all(Array.from({ length: batch }, (_, k) => q.enqueue(background(), { i: i + k })));
  const rate = n / ((performance.now() - t0) / 1000);
  await q.close();
  await cleanup(redis, `leash:queue:{${name}}*`);
  return rate;
}

async function bullEnqueue(redis: Redis, n: number, batch: number): Promise<number> {
  const name = `bench-${process.pid}-${seq++}`;
  const q = new BullQueue(name, { connection });
  await q.waitUntilReady();
  const t0 = performance.now();
  for (let i = 0; i < n; i += batch)
    if (batch === 1) await q.add('j', { i }, { removeOnComplete: true });
    else
      await q.addBulk(
        Array.from({ length: batch }, (_, k) => ({
          name: 'j',
          data: { i: i + k },
          opts: { removeOnComplete: true },
        })),
      );
  const rate = n / ((performance.now() - t0) / 1000);
  await q.obliterate({ force: true });
  await q.close();
  await cleanup(redis, `bull:${name}*`);
  return rate;
}

async function leashProcess(redis: Redis, n: number, concurrency: number, prefetch = true): Promise<number> {
  const name = `bench-${process.pid}-${seq++}`;
  const q = createQueue<{ i: number }>({
    name,
    backend: redisStreams({ redis, blockMs: 50, prefetch: prefetch ? 4 : 0 }),
  });
  for (let i = 0; i < n; i += 500)
    await Promise.all(Array.from({ length: 500 }, (_, k) => q.enqueue(background(), { i: i + k })));
  let done = 0;
  let finish!: () => void;
  const all = new Promise<void>((r) => {
    finish = r;
  });
  const cmd0 = await commandUs(redis);
  const cpu0 = await redisCpuUs(redis);
  const t0 = performance.now();
  const w = q.work(
    background(),
    async () => {
      if (++done === n) finish();
    },
    { concurrency },
  );
  await all;
  const rate = n / ((performance.now() - t0) / 1000);
  redisCpu.get(prefetch ? 'leash' : 'leash, prefetch off')?.push(((await redisCpuUs(redis)) - cpu0) / n);
  if (prefetch) {
    for (const [name, c] of await commandUs(redis)) {
      const before = cmd0.get(name) ?? { calls: 0, usec: 0 };
      const sum = leashCommands.get(name) ?? { calls: 0, usec: 0 };
      leashCommands.set(name, {
        calls: sum.calls + c.calls - before.calls,
        usec: sum.usec + c.usec - before.usec,
      });
    }
    leashProcessed += n;
  }
  await w.drain(1000);
  await q.close();
  await cleanup(redis, `leash:queue:{${name}}*`);
  return rate;
}

async function bullProcess(redis: Redis, n: number, concurrency: number): Promise<number> {
  const name = `bench-${process.pid}-${seq++}`;
  const q = new BullQueue(name, { connection });
  for (let i = 0; i < n; i += 500)
    await q.addBulk(
      Array.from({ length: 500 }, (_, k) => ({
        name: 'j',
        data: { i: i + k },
        opts: { removeOnComplete: true },
      })),
    );
  let done = 0;
  let finish!: () => void;
  const all = new Promise<void>((r) => {
    finish = r;
  });
  const cpu0 = await redisCpuUs(redis);
  const t0 = performance.now();
  const w = new BullWorker(
    name,
    async () => {
      if (++done === n) finish();
    },
    { connection, concurrency },
  );
  await all;
  const rate = n / ((performance.now() - t0) / 1000);
  redisCpu.get('BullMQ')?.push(((await redisCpuUs(redis)) - cpu0) / n);
  await w.close();
  await q.obliterate({ force: true });
  await q.close();
  await cleanup(redis, `bull:${name}*`);
  return rate;
}

// Latency from enqueue to start at a steady arrival rate the worker can keep up with.
async function leashLatency(redis: Redis, rate: number, ms: number): Promise<number[]> {
  const name = `bench-${process.pid}-${seq++}`;
  const q = createQueue<{ t: number }>({ name, backend: redisStreams({ redis, blockMs: 1000 }) });
  const lat: number[] = [];
  const w = q.work(
    background(),
    async (_c, j) => {
      lat.push(performance.timeOrigin + performance.now() - j.t);
    },
    { concurrency: 16 },
  );
  await steady(rate, ms, () => q.enqueue(background(), { t: performance.timeOrigin + performance.now() }));
  await new Promise((r) => setTimeout(r, 300));
  await w.drain(1000);
  await q.close();
  await cleanup(redis, `leash:queue:{${name}}*`);
  return lat;
}

async function bullLatency(redis: Redis, rate: number, ms: number): Promise<number[]> {
  const name = `bench-${process.pid}-${seq++}`;
  const q = new BullQueue(name, { connection });
  const lat: number[] = [];
  const w = new BullWorker(
    name,
    async (job) => {
      lat.push(performance.timeOrigin + performance.now() - (job.data as { t: number }).t);
    },
    { connection, concurrency: 16 },
  );
  await w.waitUntilReady();
  await steady(rate, ms, () =>
    q.add('j', { t: performance.timeOrigin + performance.now() }, { removeOnComplete: true }),
  );
  await new Promise((r) => setTimeout(r, 300));
  await w.close();
  await q.obliterate({ force: true });
  await q.close();
  await cleanup(redis, `bull:${name}*`);
  return lat;
}

async function steady(rate: number, ms: number, send: () => Promise<unknown>): Promise<void> {
  const start = performance.now();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; ; i++) {
    const at = start + (i * 1000) / rate;
    if (at - start > ms) break;
    const wait = at - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(send());
  }
  await Promise.all(pending);
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
}

async function memory(): Promise<void> {
  const N = Number(process.env.MEM_JOBS ?? 1_000_000);
  const rows: Row[] = [
    { name: 'memory: enqueue N, then one worker runs them (conc 1)', rates: [] },
    { name: 'memory: producer and one worker at once (conc 64)', rates: [] },
    { name: 'floor: await + array push/shift + an async fn per job', rates: [] },
    { name: '  of the first row: the worker alone on the backlog (conc 1)', rates: [] },
    { name: '  of the first row: the awaited enqueues alone', rates: [] },
  ];
  for (let round = 0; round < ROUNDS; round++) {
    {
      // What any promise-based queue pays at least: one awaited enqueue and one async handler call
      // per job, no ids, contexts, bookkeeping or events.
      const items: number[] = [];
      let done = 0;
      const handler = async (_n: number): Promise<void> => {
        done++;
      };
      const t0 = performance.now();
      for (let i = 0; i < N; i++) {
        items.push(i);
        await Promise.resolve();
        const n = items.shift() as number;
        await handler(n);
      }
      if (done !== N) throw new Error('floor lost jobs');
      rows[2]?.rates.push(N / ((performance.now() - t0) / 1000));
    }
    {
      const q = createQueue<number>({ name: 'm', backend: memoryBackend({ capacity: N }) });
      const ctx = background();
      const t0 = performance.now();
      for (let i = 0; i < N; i++) await q.enqueue(ctx, i);
      const t1 = performance.now();
      let done = 0;
      let finish!: () => void;
      const all = new Promise<void>((r) => {
        finish = r;
      });
      const w = q.work(
        ctx,
        async () => {
          if (++done === N) finish();
        },
        { concurrency: 1 },
      );
      await all;
      const t2 = performance.now();
      rows[0]?.rates.push(N / ((t2 - t0) / 1000));
      rows[3]?.rates.push(N / ((t2 - t1) / 1000));
      rows[4]?.rates.push(N / ((t1 - t0) / 1000));
      await w.drain(100);
    }
    {
      const q = createQueue<number>({ name: 'm2', backend: memoryBackend({ capacity: 1024 }) });
      const ctx = background();
      let done = 0;
      let finish!: () => void;
      const all = new Promise<void>((r) => {
        finish = r;
      });
      const t0 = performance.now();
      const w = q.work(
        ctx,
        async () => {
          if (++done === N) finish();
        },
        { concurrency: 64 },
      );
      for (let i = 0; i < N; i++) await q.enqueue(ctx, i);
      await all;
      rows[1]?.rates.push(N / ((performance.now() - t0) / 1000));
      await w.drain(100);
    }
  }
  report(
    `memory backend, ${N} jobs, enqueue + run (goal >= 1M jobs/s through one worker)`,
    rows,
    'floor: await + array push/shift + an async fn per job',
  );
}

async function main(): Promise<void> {
  console.log(
    `# leashjs/queue bench: Node ${process.version}, ${ROUNDS} rounds, ${JOBS} jobs per Redis case`,
  );
  await memory();
  if (process.env.REDIS === '0') return;
  const redis = new Redis(connection);
  const add: Row[] = [
    { name: 'BullMQ queue.add (awaited one at a time)', rates: [] },
    { name: 'leash enqueue (awaited one at a time)', rates: [] },
  ];
  const bulk: Row[] = [
    { name: 'BullMQ addBulk(50)', rates: [] },
    { name: 'leash 50 enqueues at once', rates: [] },
  ];
  const proc: Row[] = [
    { name: 'BullMQ Worker, concurrency 16', rates: [] },
    { name: 'leash worker, concurrency 16 (prefetch: 4, the default)', rates: [] },
    { name: 'leash worker, concurrency 16, prefetch: 0', rates: [] },
  ];
  for (let r = 0; r < ROUNDS; r++) {
    add[0]?.rates.push(await bullEnqueue(redis, JOBS / 5, 1));
    add[1]?.rates.push(await leashEnqueue(redis, JOBS / 5, 1));
    bulk[0]?.rates.push(await bullEnqueue(redis, JOBS, 50));
    bulk[1]?.rates.push(await leashEnqueue(redis, JOBS, 50));
    proc[0]?.rates.push(await bullProcess(redis, JOBS, 16));
    proc[1]?.rates.push(await leashProcess(redis, JOBS, 16));
    proc[2]?.rates.push(await leashProcess(redis, JOBS, 16, false));
  }
  report(
    'enqueue, one at a time (goal: at least BullMQ add)',
    add,
    'BullMQ queue.add (awaited one at a time)',
    {
      x: 1,
      of: 'leash enqueue (awaited one at a time)',
    },
  );
  report('enqueue, 50 at a time (goal: at least BullMQ addBulk)', bulk, 'BullMQ addBulk(50)', {
    x: 1,
    of: 'leash 50 enqueues at once',
  });
  report('process pre-filled jobs (goal: at least 3x BullMQ)', proc, 'BullMQ Worker, concurrency 16', {
    x: 3,
    of: 'leash worker, concurrency 16 (prefetch: 4, the default)',
  });
  for (const [who, us] of redisCpu)
    console.log(
      `Redis CPU per processed job, ${who}: ${median(us).toFixed(1)} µs [${Math.min(...us).toFixed(1)}..${Math.max(...us).toFixed(1)}]`,
    );
  console.log(
    'Redis time per processed job by command, leash (INFO commandstats; scripts include their commands):',
  );
  for (const [name, c] of [...leashCommands].sort((x, y) => y[1].usec - x[1].usec))
    if (c.usec / leashProcessed >= 0.01)
      console.log(
        `  ${name.padEnd(14)} ${(c.usec / leashProcessed).toFixed(2).padStart(6)} µs  ${(c.calls / leashProcessed).toFixed(3)} calls`,
      );
  const rate = Number(process.env.RATE ?? 500);
  const bl = await bullLatency(redis, rate, 3000);
  const ll = await leashLatency(redis, rate, 3000);
  console.log(`\n## enqueue-to-start latency at ${rate} jobs/s for 3 s (ms)`);
  for (const [name, l] of [
    ['BullMQ', bl],
    ['leash', ll],
  ] as const)
    console.log(
      `${name.padEnd(12)} p50 ${pct(l, 0.5).toFixed(2)}  p99 ${pct(l, 0.99).toFixed(2)}  max ${Math.max(...l).toFixed(2)}  (${l.length} jobs)`,
    );
  await redis.quit();
}

await main();
