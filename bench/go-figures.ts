// Go's figures for the same operations, measured now on this machine by bench/go (never quoted:
// a number copied from another machine or another day says nothing on a shared 2-core box).
//
// Each benchmark runs `count` times at GOMAXPROCS 1 and at GOMAXPROCS 2; the figure is the
// smaller of the two medians of CPU time per operation (cpu-ns/op, from getrusage, as the node
// harness measures), so leash is compared with Go at its best here (an unbuffered hand-off costs
// more across cores, a buffered one less on one). The wall-clock medians are kept for display.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median } from './harness.js';

export type GoBench =
  | 'ChanUnbuffered'
  | 'ChanBuffered128'
  | 'SelectCtx'
  | 'GoJoin'
  | 'WithCancel'
  | 'WithTimeout'
  | 'ValueDepth10';

export interface GoFigure {
  /** CPU ns/op: the smaller of the GOMAXPROCS=1 and GOMAXPROCS=2 medians. */
  readonly ns: number;
  /** Median CPU ns/op at GOMAXPROCS=1 and 2. */
  readonly cpu1: number;
  readonly cpu2: number;
  /** Median wall-clock ns/op at the GOMAXPROCS of `ns`. */
  readonly wall: number;
}

export type GoFigures = Partial<Record<GoBench, GoFigure>>;

const dir = fileURLToPath(new URL('./go/', import.meta.url));

let version: string | undefined;

/** goVersion returns `go version`'s output, or undefined when Go is not on PATH. */
export function goVersion(): string | undefined {
  if (version !== undefined) return version || undefined;
  const r = spawnSync('go', ['version'], { encoding: 'utf8' });
  version = r.status === 0 ? r.stdout.trim() : '';
  return version || undefined;
}

/**
 * runGo runs the named Go benchmarks (`count` samples per GOMAXPROCS) and returns their figures,
 * or undefined, after saying how to install Go, when `go` is not on PATH.
 */
export function runGo(names: readonly GoBench[], count = 5): GoFigures | undefined {
  const v = goVersion();
  if (v === undefined) {
    console.log(
      'Go figures: `go` is not on PATH, so no Go figure is printed. Install it (Debian/Ubuntu: ' +
        '`apt-get install -y golang-go`; elsewhere https://go.dev/dl) and re-run to see leash beside Go.',
    );
    return undefined;
  }
  const r = spawnSync(
    'go',
    [
      'test',
      '-run',
      '^$',
      '-bench',
      `^Benchmark(${names.join('|')})$`,
      '-benchtime',
      '200000x',
      '-count',
      String(count),
      '-cpu',
      '1,2',
    ],
    { cwd: dir, encoding: 'utf8', env: { ...process.env, GOFLAGS: '-mod=mod' } },
  );
  if (r.status !== 0) {
    console.log(`Go figures: go test failed, no Go figure printed:\n${r.stderr || r.stdout}`);
    return undefined;
  }
  const cpuSamples = new Map<string, number[]>();
  const wallSamples = new Map<string, number[]>();
  const add = (m: Map<string, number[]>, key: string, v: number) => {
    let s = m.get(key);
    if (s === undefined) m.set(key, (s = []));
    s.push(v);
  };
  for (const line of r.stdout.split('\n')) {
    const m = /^Benchmark(\w+?)(?:-(\d+))?\s+\d+\s+([\d.]+) ns\/op\s+([\d.]+) cpu-ns\/op/.exec(line);
    if (m === null) continue;
    const key = `${m[1]}/${m[2] ?? '1'}`;
    add(wallSamples, key, Number(m[3]));
    add(cpuSamples, key, Number(m[4]));
  }
  const out: GoFigures = {};
  for (const name of names) {
    const c1 = cpuSamples.get(`${name}/1`);
    const c2 = cpuSamples.get(`${name}/2`);
    if (c1 === undefined || c2 === undefined) continue;
    const cpu1 = median(c1);
    const cpu2 = median(c2);
    const best = cpu1 <= cpu2 ? '1' : '2';
    out[name] = { ns: Math.min(cpu1, cpu2), cpu1, cpu2, wall: median(wallSamples.get(`${name}/${best}`)!) };
  }
  return out;
}

/** mergeGo combines two runs (before and after the node cases): the mean of each figure. */
export function mergeGo(a: GoFigures | undefined, b: GoFigures | undefined): GoFigures | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  const out: GoFigures = {};
  for (const k of Object.keys(a) as GoBench[]) {
    const x = a[k];
    const y = b[k];
    if (x === undefined || y === undefined) continue;
    out[k] = {
      ns: (x.ns + y.ns) / 2,
      cpu1: (x.cpu1 + y.cpu1) / 2,
      cpu2: (x.cpu2 + y.cpu2) / 2,
      wall: (x.wall + y.wall) / 2,
    };
  }
  return out;
}

/** printGo prints the Go figures table. */
export function printGo(figs: GoFigures | undefined): void {
  if (figs === undefined) return;
  console.log(`\n## Go (${goVersion()}), bench/go, measured in this run`);
  if (Object.keys(figs).length === 0) console.log('(go test printed no figure this bench could read)');
  for (const [k, f] of Object.entries(figs)) {
    console.log(
      `Go ${k.padEnd(20)} ${f.ns.toFixed(1).padStart(9)} ns/op CPU (GOMAXPROCS=1: ${f.cpu1.toFixed(1)}, 2: ${f.cpu2.toFixed(1)}) wall ${f.wall.toFixed(0)}`,
    );
  }
}
