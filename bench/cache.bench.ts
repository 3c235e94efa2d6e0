// Benchmarks for leashjs/cache (docs/cache.md).
//
// 1. Hit ratio on the ARC block traces (OLTP, P3, P6, P12), beside a plain LRU and a reference ARC
//    written here from the paper, at the sizes of the traces' README. The traces are not in this
//    repository (13 MB compressed): pass their directory as the first argument or in
//    LEASH_ARC_TRACES; each `<name>.lis.zst` (or `.lis`) is read through the `zstd` command.
//    Traces: Nimrod Megiddo and Dharmendra S. Modha, "ARC: A Self-Tuning, Low Overhead Replacement
//    Cache," USENIX FAST 03, San Francisco, CA, pp. 115-130, March 31-April 2, 2003 (released on
//    the condition that this paper is cited).
// 2. Memory-tier get() against lru-cache's get(), interleaved rounds, same keys, all hits, at
//    10,000 keys and at 100,000 (where a hit's memory traffic decides).
// 3. Against bentocache, both with their Redis tier (Redis at 127.0.0.1:6379, or REDIS_PORT): a
//    memory-tier get (leash's synchronous get, bentocache's get) and a getOrLoad hit (leash's
//    getOrLoad, bentocache's getOrSet), all hits in memory, interleaved rounds. --no-bento skips it.
//
//   cd bench && node --expose-gc --import tsx cache.bench.ts <dir-with-arc-traces> [--only=OLTP,P3] [--sizes=1000,8000] [--no-speed] [--no-bento]
//
// --phases=N adds, after each hit-ratio row, ARC's and leash's hit ratios over each run of N
// requests and the size of ARC's T1 at its end, to show where in a trace the two policies part
// (docs/cache.md, "Where the P3 gap is").

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisDriver } from 'bentocache/drivers/redis';
import { Redis } from 'ioredis';
import { background } from 'leashjs';
import { type Cache, createCache } from 'leashjs/cache';
import { LRUCache } from 'lru-cache';

const args = process.argv.slice(2);
const dir = args.find((a) => !a.startsWith('--')) ?? process.env.LEASH_ARC_TRACES;
const only = args
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  .split(',');
const noSpeed = args.includes('--no-speed');
const phaseLength = Number(args.find((a) => a.startsWith('--phases='))?.slice(9) ?? 0);
if (!Number.isInteger(phaseLength) || phaseLength < 0) {
  throw new Error('--phases= takes a whole number of requests, for example --phases=200000');
}
const sizes = args
  .find((a) => a.startsWith('--sizes='))
  ?.slice(8)
  .split(',')
  .map(Number);

const SIZES: Record<string, number[]> = {
  OLTP: [1000, 2000, 5000, 10000, 15000],
  P3: [8000, 32000, 131072],
  P6: [8000, 32000, 131072],
  P12: [8000, 32000, 131072],
};

async function readTrace(name: string): Promise<Uint32Array> {
  if (!dir) throw new Error('pass the directory of the ARC traces as the first argument');
  const zst = join(dir, `${name}.lis.zst`);
  const child = existsSync(zst)
    ? spawn('zstd', ['-dc', zst], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn('cat', [join(dir, `${name}.lis`)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = new Uint32Array(1 << 20);
  let n = 0;
  for await (const line of createInterface({ input: child.stdout })) {
    const sp = line.indexOf(' ');
    const sp2 = line.indexOf(' ', sp + 1);
    const first = Number(line.slice(0, sp));
    const count = Number(line.slice(sp + 1, sp2));
    for (let i = 0; i < count; i++) {
      if (n === out.length) {
        const bigger = new Uint32Array(out.length * 2);
        bigger.set(out);
        out = bigger;
      }
      out[n++] = first + i;
    }
  }
  return out.subarray(0, n);
}

interface Sim {
  access(key: number): boolean;
}

class Lru implements Sim {
  readonly #map = new Map<number, true>();
  constructor(readonly size: number) {}
  access(k: number): boolean {
    if (this.#map.delete(k)) {
      this.#map.set(k, true);
      return true;
    }
    this.#map.set(k, true);
    if (this.#map.size > this.size) this.#map.delete(this.#map.keys().next().value as number);
    return false;
  }
}

// ARC exactly as in Megiddo & Modha's Figure 4: T1/T2 resident, B1/B2 ghost lists, target p.
class Arc implements Sim {
  readonly #t1 = new Map<number, true>();
  readonly #t2 = new Map<number, true>();
  readonly #b1 = new Map<number, true>();
  readonly #b2 = new Map<number, true>();
  #p = 0;
  constructor(readonly c: number) {}
  /** recency is T1 (the keys seen once recently) and ARC's target for it, in entries. */
  get recency(): { size: number; target: number } {
    return { size: this.#t1.size, target: this.#p };
  }
  #replace(inB2: boolean): void {
    if (this.#t1.size > 0 && (this.#t1.size > this.#p || (inB2 && this.#t1.size === this.#p))) {
      const k = this.#t1.keys().next().value as number;
      this.#t1.delete(k);
      this.#b1.set(k, true);
    } else {
      const k = this.#t2.keys().next().value as number;
      this.#t2.delete(k);
      this.#b2.set(k, true);
    }
  }
  access(x: number): boolean {
    const c = this.c;
    if (this.#t1.delete(x) || this.#t2.delete(x)) {
      this.#t2.set(x, true);
      return true;
    }
    if (this.#b1.has(x)) {
      this.#p = Math.min(c, this.#p + Math.max(this.#b2.size / this.#b1.size, 1));
      this.#replace(false);
      this.#b1.delete(x);
      this.#t2.set(x, true);
      return false;
    }
    if (this.#b2.has(x)) {
      this.#p = Math.max(0, this.#p - Math.max(this.#b1.size / this.#b2.size, 1));
      this.#replace(true);
      this.#b2.delete(x);
      this.#t2.set(x, true);
      return false;
    }
    const l1 = this.#t1.size + this.#b1.size;
    const total = l1 + this.#t2.size + this.#b2.size;
    if (l1 === c) {
      if (this.#t1.size < c) {
        this.#b1.delete(this.#b1.keys().next().value as number);
        this.#replace(false);
      } else {
        this.#t1.delete(this.#t1.keys().next().value as number);
      }
    } else if (total >= c) {
      if (total === 2 * c) this.#b2.delete(this.#b2.keys().next().value as number);
      this.#replace(false);
    }
    this.#t1.set(x, true);
    return false;
  }
}

class Leash implements Sim {
  readonly #tier: Cache<true>;
  constructor(size: number) {
    this.#tier = createCache<true>({ name: 'trace', maximumSize: size });
  }
  access(k: number): boolean {
    const key = String(k);
    if (this.#tier.get(key) !== undefined) return true;
    this.#tier.set(key, true);
    return false;
  }
}

function ratio(sim: Sim, trace: Uint32Array): number {
  let hits = 0;
  for (let i = 0; i < trace.length; i++) if (sim.access(trace[i] as number)) hits++;
  return (100 * hits) / trace.length;
}

async function hitRatios(): Promise<void> {
  console.log('Hit ratio (%) on the ARC traces (Megiddo & Modha, FAST 03)');
  console.log('| trace | size | LRU | ARC | leash W-TinyLFU | leash - best(LRU, ARC) |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const name of Object.keys(SIZES)) {
    if (only && !only.includes(name)) continue;
    const trace = await readTrace(name);
    for (const size of sizes ?? (SIZES[name] as number[])) {
      const lru = ratio(new Lru(size), trace);
      const { arc, leash, phases } = arcBesideLeash(size, trace, phaseLength || trace.length);
      const d = leash - Math.max(lru, arc);
      console.log(
        `| ${name} | ${size} | ${lru.toFixed(2)} | ${arc.toFixed(2)} | ${leash.toFixed(2)} | ${d >= 0 ? '+' : ''}${d.toFixed(2)} |`,
      );
      if (phaseLength > 0) {
        console.log(`\n${name} at ${size} entries, per ${phaseLength} requests`);
        console.log(
          '| requests | ARC | leash | leash - ARC (hits) | ARC T1 at the end (target), % of cache |',
        );
        console.log('|---|---:|---:|---:|---:|');
        for (const line of phases) console.log(line);
        console.log('');
      }
    }
  }
}

// arcBesideLeash replays the trace through a fresh ARC and a fresh leash cache side by side and
// returns both hit ratios (%), with a table row for each run of `length` requests: both hit
// ratios over it, the hits leash is ahead by (or behind), and ARC's T1 and its target at its end.
function arcBesideLeash(
  size: number,
  trace: Uint32Array,
  length: number,
): { arc: number; leash: number; phases: string[] } {
  const arc = new Arc(size);
  const leash = new Leash(size);
  const phases: string[] = [];
  const pct = (n: number, of: number) => ((100 * n) / of).toFixed(1);
  let arcHits = 0;
  let leashHits = 0;
  for (let start = 0; start < trace.length; start += length) {
    const end = Math.min(start + length, trace.length);
    let a = 0;
    let l = 0;
    for (let i = start; i < end; i++) {
      const k = trace[i] as number;
      if (arc.access(k)) a++;
      if (leash.access(k)) l++;
    }
    arcHits += a;
    leashHits += l;
    const { size: t1, target } = arc.recency;
    phases.push(
      `| ${start}-${end} | ${pct(a, end - start)} | ${pct(l, end - start)} | ${l - a >= 0 ? '+' : ''}${l - a} | ${pct(t1, size)} (${pct(target, size)}) |`,
    );
  }
  return { arc: (100 * arcHits) / trace.length, leash: (100 * leashHits) / trace.length, phases };
}

function speed(N: number): void {
  // The order of the keys is computed before the rounds: computing it in the loop ((i * 7919) % N)
  // overflows 32 bits after 271k calls and turns into floating-point arithmetic that cost as much
  // as a get (and changed what V8 inlined, so it blurred the comparison).
  const keys = Array.from({ length: N }, (_, i) => `key:${i}`);
  const order = Array.from({ length: N }, (_, i) => keys[(i * 7919) % N] as string);
  const leash = createCache<number>({ name: 'bench', maximumSize: N * 2 });
  const lru = new LRUCache<string, number>({ max: N * 2 });
  for (let i = 0; i < N; i++) {
    leash.set(keys[i] as string, i);
    lru.set(keys[i] as string, i);
  }
  const ROUNDS = 15;
  const OPS = 2_000_000;
  const results: Record<string, number[]> = { leash: [], 'lru-cache': [] };
  let sink = 0;
  const runs: [string, () => void][] = [
    [
      'leash',
      () => {
        for (let i = 0, j = 0; i < OPS; i++) {
          sink += leash.get(order[j] as string) ?? 0;
          if (++j === N) j = 0;
        }
      },
    ],
    [
      'lru-cache',
      () => {
        for (let i = 0, j = 0; i < OPS; i++) {
          sink += lru.get(order[j] as string) ?? 0;
          if (++j === N) j = 0;
        }
      },
    ],
  ];
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, fn] of r % 2 === 0 ? runs : [...runs].reverse()) {
      const t0 = performance.now();
      fn();
      const ms = performance.now() - t0;
      (results[name] as number[]).push((OPS / ms) * 1000);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  console.log(
    `\nget() hits, ${N} keys, ${ROUNDS} interleaved rounds of ${OPS} (median ops/s), Node ${process.version}`,
  );
  const l = median(results.leash as number[]);
  const c = median(results['lru-cache'] as number[]);
  console.log(`| leash memory tier | ${(l / 1e6).toFixed(2)} M/s |`);
  console.log(`| lru-cache         | ${(c / 1e6).toFixed(2)} M/s |`);
  console.log(`leash / lru-cache = ${(l / c).toFixed(2)}  (sink ${sink % 10})`);
}

function heapUsed(): number {
  for (let i = 0; i < 3; i++) globalThis.gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

// Memory per entry: heap and typed-array growth for 100,000 entries in a cache of 100,000 (string
// keys and small-integer values, which take no heap of their own), keys allocated before the
// measurement so only the cache is counted. Typed arrays count: both caches keep per-entry state
// in them (leash also its frequency sketch and ghost list, sized by the maximum).
function memoryPerEntry(): void {
  if (!globalThis.gc) {
    console.log('\nmemory per entry: run with --expose-gc');
    return;
  }
  const N = 100_000;
  const keys = Array.from({ length: N }, (_, i) => `key:${i}`);
  const perEntry = (make: () => { set(k: string, v: number): unknown }): number => {
    const before = heapUsed();
    const c = make();
    for (let i = 0; i < N; i++) c.set(keys[i] as string, i);
    const bytes = (heapUsed() - before) / N;
    if (c === undefined) console.log('unreachable');
    return bytes;
  };
  const leash = perEntry(() => createCache<number>({ name: 'mem', maximumSize: N }));
  const lru = perEntry(() => new LRUCache<string, number>({ max: N }));
  console.log(
    `\nmemory per entry (${N} entries, keys not counted): leash ${leash.toFixed(0)} B, lru-cache ${lru.toFixed(0)} B`,
  );
}

// leash and bentocache, each with memory in front of Redis; every key is loaded once (through
// Redis) before the measurement, so every measured call is a memory hit.
async function againstBentocache(): Promise<void> {
  const N = 10_000;
  const port = Number(process.env.REDIS_PORT ?? 6379);
  const keys = Array.from({ length: N }, (_, i) => `key:${i}`);
  const redis = new Redis({ host: '127.0.0.1', port });
  const run = `bench-${process.pid}`;
  const leash = createCache<number>({ name: run, maximumSize: N * 2, ttlMs: 3_600_000, redis });
  const bentoRedis = new Redis({ host: '127.0.0.1', port });
  const bento = new BentoCache({
    default: 'tiered',
    prefix: run,
    stores: {
      tiered: bentostore()
        .useL1Layer(memoryDriver({ maxItems: N * 2 }))
        .useL2Layer(redisDriver({ connection: bentoRedis })),
    },
  });
  const ctx = background();
  for (let i = 0; i < N; i++) {
    await leash.getOrLoad(ctx, keys[i] as string, async () => i);
    await bento.getOrSet({ key: keys[i] as string, factory: () => i, ttl: '1h' });
  }
  await leash.flush();
  const ROUNDS = 9;
  const OPS = 200_000;
  let sink = 0;
  const loader = async (): Promise<number> => -1;
  const factory = (): number => -1;
  const runs: [string, () => Promise<void>][] = [
    [
      'leash get',
      async () => {
        for (let i = 0; i < OPS; i++) sink += leash.get(keys[(i * 7919) % N] as string) ?? 0;
      },
    ],
    [
      'bentocache get',
      async () => {
        for (let i = 0; i < OPS; i++)
          sink += (await bento.get<number>({ key: keys[(i * 7919) % N] as string })) ?? 0;
      },
    ],
    [
      'leash getOrLoad',
      async () => {
        for (let i = 0; i < OPS; i++)
          sink += await leash.getOrLoad(ctx, keys[(i * 7919) % N] as string, loader);
      },
    ],
    [
      'bentocache getOrSet',
      async () => {
        for (let i = 0; i < OPS; i++)
          sink += await bento.getOrSet({ key: keys[(i * 7919) % N] as string, factory, ttl: '1h' });
      },
    ],
  ];
  const results: Record<string, number[]> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, fn] of r % 2 === 0 ? runs : [...runs].reverse()) {
      const t0 = performance.now();
      await fn();
      const ms = performance.now() - t0;
      (results[name] ??= []).push((OPS / ms) * 1000);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const m = (k: string): number => median(results[k] as number[]);
  console.log(
    `\nwith a Redis tier, memory hits, ${N} keys, ${ROUNDS} interleaved rounds of ${OPS} sequential calls (median ops/s), Node ${process.version}`,
  );
  console.log('| call | leash | bentocache | leash / bentocache |');
  console.log('|---|---:|---:|---:|');
  console.log(
    `| get (memory tier) | ${(m('leash get') / 1e6).toFixed(2)} M/s | ${(m('bentocache get') / 1e6).toFixed(2)} M/s | ${(m('leash get') / m('bentocache get')).toFixed(2)} |`,
  );
  console.log(
    `| getOrLoad / getOrSet hit | ${(m('leash getOrLoad') / 1e6).toFixed(2)} M/s | ${(m('bentocache getOrSet') / 1e6).toFixed(2)} M/s | ${(m('leash getOrLoad') / m('bentocache getOrSet')).toFixed(2)} |`,
  );
  if (sink < 0) console.log('sink', sink); // never: the loaders never run
  await leash.close();
  await bento.clear();
  await bento.disconnect();
  await redis.quit();
  await bentoRedis.quit().catch(() => {});
}

await hitRatios();
if (!noSpeed) {
  // 10,000 keys fit the CPU's caches with either layout; at 100,000 a hit's memory traffic decides.
  speed(10_000);
  speed(100_000);
  memoryPerEntry();
}
if (!args.includes('--no-bento')) await againstBentocache();
