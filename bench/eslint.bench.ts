// leashjs/eslint's cost: linting the whole repository with the plug-in's recommended rules beside
// the same ESLint run without them (same parser, same files), interleaved in one process.
// The goal (issue 16) is at most 20% over ESLint without the plug-in.
//
//   node --import tsx bench/eslint.bench.ts        (from the repository root; ROUNDS=N, default 5)
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ESLint, type Linter } from 'eslint';
import { baseConfig, withLeash } from '../test/eslint/repo-config.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const FILES = ['src/**/*.ts', 'test/**/*.ts', 'test/**/*.mjs', 'demo/**/*.ts', 'bench/*.ts', 'scripts/*.mjs'];
const rounds = Number(process.env.ROUNDS ?? 5);

function linter(config: Linter.Config[]): ESLint {
  return new ESLint({ cwd: root, overrideConfigFile: true, overrideConfig: config, cache: false });
}

const cases = [
  { name: 'eslint (no plug-in)', eslint: linter(baseConfig), ms: [] as number[], cpu: [] as number[] },
  { name: 'eslint + leash/recommended', eslint: linter(withLeash), ms: [] as number[], cpu: [] as number[] },
];

let files = 0;
let reports = 0;
// Warm-up: module loading, parser JIT, the file system cache.
for (const c of cases) {
  const results = await c.eslint.lintFiles(FILES);
  files = results.length;
  reports = results.reduce((n, r) => n + r.messages.length, 0);
}

for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? cases : [...cases].reverse();
  for (const c of order) {
    const t0 = performance.now();
    const u0 = process.cpuUsage();
    await c.eslint.lintFiles(FILES);
    const u = process.cpuUsage(u0);
    c.ms.push(performance.now() - t0);
    // CPU time of this process: linting is single-threaded CPU work, and CPU time leaves out the
    // time spent waiting for a core when other jobs share the machine (wall time does not).
    c.cpu.push((u.user + u.system) / 1000);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = median(cases[0]!.ms);
console.log(`# leashjs/eslint: whole repository (${files} files), ${rounds} interleaved rounds, median`);
for (const c of cases) {
  const m = median(c.ms);
  const spread = `${Math.min(...c.ms).toFixed(0)}..${Math.max(...c.ms).toFixed(0)}`;
  console.log(`${c.name.padEnd(28)} ${m.toFixed(0).padStart(7)} ms  (${spread})  x${(m / base).toFixed(3)}`);
}
for (const c of cases) {
  const m = median(c.cpu);
  console.log(
    `${`${c.name} (CPU)`.padEnd(34)} ${m.toFixed(0).padStart(7)} ms  x${(m / median(cases[0]!.cpu)).toFixed(3)}`,
  );
}
const cpuRatio = median(cases[1]!.cpu) / median(cases[0]!.cpu);
console.log(
  `plug-in overhead in CPU time: ${((cpuRatio - 1) * 100).toFixed(1)}% by medians (goal: at most 20%)`,
);
const ratio = median(cases[1]!.ms) / base;
console.log(
  `plug-in overhead: ${((ratio - 1) * 100).toFixed(1)}% (goal: at most 20%); ${reports} reports with the plug-in`,
);
