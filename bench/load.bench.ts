// `leash load` against autocannon on the same loopback server, in the same run. Run: cd bench && npm
// run load (build first: npm run build at the root; this runs the built CLI, dist/leak/cli.js).
// Environment: BENCH_SECONDS (per run, default 3), BENCH_ROUNDS (default 2), BENCH_CONNECTIONS
// (default 50).
//
// The server is bench/http-server.ts (node:http hello world, no leash) in its own process. Each
// round: autocannon -c N for BENCH_SECONDS (closed model: as fast as the server answers, so its
// req/s is the server's capacity), then `leash load` with the same N connections after a 1 s
// warm-up, twice: at exactly autocannon's rate (does it keep the schedule, and what latency), and
// at 1.25 times it (an overload: the server, not the generator, must be the limit, so answered/s
// is the most leash load can drive). Its answered/s runs from the first measured request's due
// time to the last answer, so falling behind shows. Goal: leash load's answered/s at the overload
// >= autocannon's req/s (ratio >= 1.0), with percentiles measured from the intended send times.
//
// The two tools measure different things at that rate: autocannon's latency is the wait of one of N
// requests in flight (about N / rate), leash load's is the time from when each request was due, so
// it grows when the server falls behind the schedule. Both are printed; neither is "the" latency.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { canPin, pinned } from './cpu-pinning.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const execFileAsync = promisify(execFile);
const autocannonBin = fileURLToPath(new URL('./node_modules/autocannon/autocannon.js', import.meta.url));
const serverScript = fileURLToPath(new URL('./http-server.ts', import.meta.url));
const cli = fileURLToPath(new URL('../dist/leak/cli.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'leash-load-bench-'));

interface Measured {
  rps: number;
  p50: number;
  p99: number;
}

async function autocannon(url: string, s: number): Promise<Measured> {
  const [file, args] = pinned(0, [autocannonBin, '-j', '-c', String(connections), '-d', String(s), url]);
  const { stdout } = await execFileAsync(file, args, { maxBuffer: 64 * 1024 * 1024 });
  const r = JSON.parse(stdout) as { requests: { average: number }; latency: { p50: number; p99: number } };
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 };
}

async function leashLoad(
  url: string,
  rate: number,
  s: number,
): Promise<Measured & { lag99: number; errors: number; cpuUsPerReq: number }> {
  const json = join(scratch, 'report.json');
  const [file, args] = pinned(0, [
    cli,
    'load',
    '--rate',
    String(Math.round(rate)),
    '--duration',
    `${s}s`,
    '--warmup',
    '1s',
    '--connections',
    String(connections),
    '--json',
    json,
    url,
  ]);
  try {
    await execFileAsync(file, args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    // A failed threshold would exit non-zero; there is none here, so this is a real failure.
    throw new Error(`leash load failed: ${String(err)}`);
  }
  const r = JSON.parse(readFileSync(json, 'utf8')) as {
    rps: number;
    requests: number;
    cpuMs: number;
    errors: number;
    latencyMs: { p50: number; p99: number };
    sendLagMs: { p99: number };
  };
  return {
    rps: r.rps,
    p50: r.latencyMs.p50,
    p99: r.latencyMs.p99,
    lag99: r.sendLagMs.p99,
    errors: r.errors,
    cpuUsPerReq: (r.cpuMs * 1000) / Math.max(1, r.requests),
  };
}

const [file, args] = pinned(1, ['--import', 'tsx', serverScript, 'node:http', 'bare']);
const server = spawn(file, args, { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = createInterface({ input: server.stdout })[Symbol.asyncIterator]();
try {
  const { port } = JSON.parse((await lines.next()).value as string) as { port: number };
  const url = `http://127.0.0.1:${port}/`;
  console.log(
    `# leash load vs autocannon: node:http hello world on loopback, ${connections} connections, ${seconds} s per run, ${rounds} rounds${canPin ? ' (server on core 1, load generator on core 0)' : ' (not pinned)'}; Node ${process.version}`,
  );
  await autocannon(url, 1); // warm-up: JIT, connection setup
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const ac = await autocannon(url, seconds);
    const ll = await leashLoad(url, ac.rps, seconds);
    const over = await leashLoad(url, ac.rps * 1.25, seconds);
    const ratio = over.rps / ac.rps;
    ratios.push(ratio);
    console.log(
      `round ${i + 1}: autocannon ${ac.rps.toFixed(0)} req/s (p50 ${ac.p50} ms, p99 ${ac.p99} ms)\n` +
        `  leash load at that rate: answered ${ll.rps.toFixed(0)}/s (${(ll.rps / ac.rps).toFixed(3)} of it; p50 ${ll.p50} ms, p99 ${ll.p99} ms from the intended send time; send lag p99 ${ll.lag99} ms; errors ${ll.errors}; ${ll.cpuUsPerReq.toFixed(0)} µs CPU per request)\n` +
        `  leash load at 1.25x: answered ${over.rps.toFixed(0)}/s (p99 ${over.p99} ms: the queue of an overload; errors ${over.errors}) | ratio to autocannon ${ratio.toFixed(3)}`,
    );
  }
  ratios.sort((a, b) => a - b);
  // The middle one, or the mean of the middle two: never the upper of two.
  const m = ratios.length >> 1;
  const median = ratios.length % 2 === 1 ? ratios[m]! : (ratios[m - 1]! + ratios[m]!) / 2;
  console.log(
    `leash load sustained (at 1.25x) / autocannon req/s: median ${median.toFixed(3)}, rounds ${ratios.map((r) => r.toFixed(3)).join(' ')} (goal >= 1.0: ${median >= 1 ? 'met' : 'missed'})`,
  );
} finally {
  server.stdin.end();
  await new Promise((r) => server.once('exit', r));
  rmSync(scratch, { recursive: true, force: true });
}
