// Where does an adapter's per-request cost go? Profiles a hello-world server (bench/http-server.ts)
// bare and with the leash adapter under the same autocannon load, and prints, per function, the
// difference in CPU self time per request, largest first. Run:
//   cd bench && npm run http:profile -- <node:http|express|fastify|koa> [leash|leash-no-als]
// Linux with taskset and 2+ cores pins the server to core 1 and autocannon to core 0.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { pinned } from './cpu-pinning.js';

const [framework = 'node:http', variant = 'leashjs'] = process.argv.slice(2);
const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/** selfTime profiles one server variant and returns µs of self time per function, and requests served. */
async function selfTime(v: string): Promise<{ byFunction: Map<string, number>; requests: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'leash-http-profile-'));
  const [file, args] = pinned(1, [
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
    '--import',
    'tsx',
    here('./http-server.ts'),
    framework,
    v,
  ]);
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const { port } = JSON.parse((await lines.next()).value as string) as { port: number };
  const load = (s: number) => {
    const [f, a] = pinned(0, [
      here('./node_modules/autocannon/autocannon.js'),
      '-j',
      '-c',
      '50',
      '-d',
      String(s),
      `http://127.0.0.1:${port}/`,
    ]);
    return JSON.parse(execFileSync(f, a, { maxBuffer: 1 << 26 }).toString()) as {
      requests: { total: number };
    };
  };
  load(1);
  const requests = load(seconds).requests.total;
  child.stdin.end();
  await new Promise((r) => child.once('exit', r));
  const path = readdirSync(dir)
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  rmSync(dir, { recursive: true, force: true });
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const byFunction = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const f = byId.get(profile.samples[i]!)!;
    if (f.functionName === '(idle)') continue;
    const where = f.url.replace(/.*node_modules\//, '').replace(/.*\/(dist|src)\//, '$1/');
    const key = `${f.functionName || '(anonymous)'} ${where}:${f.lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  return { byFunction, requests };
}

const bare = await selfTime('bare');
const leash = await selfTime(variant);
const perRequestNs = (r: typeof bare, key: string) => ((r.byFunction.get(key) ?? 0) / r.requests) * 1000;
const total = (r: typeof bare) => ([...r.byFunction.values()].reduce((a, b) => a + b, 0) / r.requests) * 1000;
console.log(
  `${framework}: busy CPU per request, bare ${total(bare).toFixed(0)} ns, ${variant} ${total(leash).toFixed(0)} ns ` +
    `(${(((total(leash) - total(bare)) / total(bare)) * 100).toFixed(1)}%). Profiles are sampled: rows under ~50 ns are noise.`,
);
const keys = new Set([...bare.byFunction.keys(), ...leash.byFunction.keys()]);
const rows = [...keys].map((k) => [k, perRequestNs(leash, k) - perRequestNs(bare, k)] as const);
rows.sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
for (const [key, ns] of rows.slice(0, Number(process.env.ROWS ?? 25))) {
  console.log(`${(ns >= 0 ? '+' : '') + ns.toFixed(0)} ns`.padStart(10), key);
}
