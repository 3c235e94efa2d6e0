// Leak tracking overhead: how much slower do a promise-heavy and a timer-heavy workload run under
// each tracking mode, and how long does verifyNone take when nothing leaked?
//
// async_hooks and promise hooks are process-wide and cannot be turned off cleanly between cases, so
// every (workload, mode) pair runs in its own child process (this file, re-executed with arguments);
// the parent prints ns/op and the ratio to no tracking. Peers:
// - why-is-node-running: its async_hooks hook (init with a captured stack per non-promise resource,
//   plus destroy), installed by importing the package.
// - vitest-like: Vitest's detectAsyncLeaks approach, a stack string per async resource (promises
//   included) kept until destroy or resolve.
//
// Run: npx tsc -p tsconfig.build.json && cd bench && node --expose-gc --import tsx leak.bench.ts
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

type Mode = 'none' | 'count' | 'debug' | 'full' | 'why-is-node-running' | 'vitest-like';
type Workload = 'promise-heavy' | 'timer-heavy';

const modes: Mode[] = ['none', 'count', 'debug', 'full', 'why-is-node-running', 'vitest-like'];
const workloads: Workload[] = ['promise-heavy', 'timer-heavy'];

async function install(mode: Mode): Promise<void> {
  if (mode === 'count' || mode === 'debug' || mode === 'full') {
    const { startTracking } = await import('leashjs/leak');
    startTracking({ mode });
  } else if (mode === 'why-is-node-running') {
    await import('why-is-node-running');
  } else if (mode === 'vitest-like') {
    const { createHook } = await import('node:async_hooks');
    const live = new Map<number, { type: string; stack: string }>();
    const end = (id: number) => live.delete(id);
    createHook({
      init(id, type) {
        live.set(id, { type, stack: new Error().stack ?? '' });
      },
      destroy: end,
      promiseResolve: end,
    }).enable();
  }
}

// One op: a request-like async chain of 5 awaited calls, each doing a little real work.
async function leaf(i: number): Promise<string> {
  return JSON.stringify({ i, ok: true });
}
async function promiseOp(i: number): Promise<number> {
  let n = 0;
  for (let j = 0; j < 5; j++) n += (await leaf(i + j)).length;
  return n;
}

// One op: what a server does per request with timers: arm a request timeout and a retry timer,
// cancel both when the work completes, and yield once through setImmediate.
function timerOp(): Promise<void> {
  const timeout = setTimeout(() => {}, 10_000);
  const retry = setTimeout(() => {}, 5_000);
  return new Promise<void>((resolve) =>
    setImmediate(() => {
      clearTimeout(timeout);
      clearTimeout(retry);
      resolve();
    }),
  );
}

async function runOps(workload: Workload, n: number): Promise<void> {
  if (workload === 'promise-heavy') {
    for (let i = 0; i < n; i++) await promiseOp(i);
  } else {
    // 16 requests in flight at a time.
    for (let i = 0; i < n; i += 16) await Promise.all(Array.from({ length: 16 }, timerOp));
  }
}

async function child(workload: Workload, mode: Mode): Promise<void> {
  await install(mode);
  const ops = workload === 'promise-heavy' ? 50_000 : 20_000;
  await runOps(workload, ops / 4);
  const samples: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    await runOps(workload, ops);
    samples.push(Number(process.hrtime.bigint() - t0) / ops);
  }
  samples.sort((a, b) => a - b);
  let verifyMs: number | undefined;
  if (mode === 'full' || mode === 'debug') {
    // verifyNone right after a clean unit of work, as a test would call it.
    const { snapshot, verifyNone } = await import('leashjs/leak');
    const times: number[] = [];
    for (let r = 0; r < 5; r++) {
      const base = snapshot();
      await runOps(workload, 200);
      const t0 = performance.now();
      await verifyNone({ baseline: base });
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    verifyMs = times[2];
  }
  process.stdout.write(`${JSON.stringify({ nsPerOp: samples[2], verifyMs })}\n`);
  process.exit(0);
}

async function parent(): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  console.log(`leashjs/leak tracking overhead, node ${process.version}, each case in its own process\n`);
  for (const workload of workloads) {
    const rows: Array<{ mode: Mode; ns: number; verifyMs: number | undefined }> = [];
    for (const mode of modes) {
      const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', self, workload, mode], {
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`${workload}/${mode} failed: ${r.stderr}`);
      const { nsPerOp, verifyMs } = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
        nsPerOp: number;
        verifyMs?: number;
      };
      rows.push({ mode, ns: nsPerOp, verifyMs });
    }
    const base = rows[0]!.ns;
    console.log(`${workload}:`);
    for (const row of rows) {
      const verify =
        row.verifyMs === undefined ? '' : `   verifyNone (nothing leaked): ${row.verifyMs.toFixed(1)} ms`;
      console.log(
        `  ${row.mode.padEnd(20)} ${row.ns.toFixed(0).padStart(8)} ns/op  ${(row.ns / base).toFixed(2).padStart(6)}x${verify}`,
      );
    }
    console.log('');
  }
}

const [workload, mode] = process.argv.slice(2) as [Workload | undefined, Mode | undefined];
if (workload && mode) await child(workload, mode);
else await parent();
