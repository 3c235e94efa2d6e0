// A small, honest benchmark harness.
//
// - Time is the process's CPU time (process.cpuUsage: user + system, every thread) per operation,
//   and the wall clock is reported beside it. These machines are shared with other jobs: the wall
//   clock also counts the time the OS gave to them (load averages of 10 on 2 cores were seen),
//   while CPU time is what the operation cost. Go's figures (bench/go) are measured the same way
//   (getrusage), so ratios compare like with like.
// - Cases of one table are interleaved: every round runs each case once (in a rotated order), so
//   a burst of noise from another job on this shared machine lands on all of them, not on one.
// - Each case warms up first (a quarter of a round), and the heap is collected before each round
//   when --expose-gc is given, so one case's garbage is not collected on the next one's clock.
// - The median round is reported with the spread (min..max over rounds): a wide spread says the
//   run was noisy, and then ratios between rows mean more than any absolute figure.
// - A case that changes the process for everything after it (a promise hook, timers it leaves
//   behind, garbage that slows the GC) runs in a child process of its own: `inChild`.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface Case {
  name: string;
  /** Runs the operation `n` times. */
  run: (n: number) => void | Promise<void>;
  /** Operations per round for this case, when it is much slower than its peers. */
  ops?: number;
}

export interface Result {
  name: string;
  /** Median CPU ns/op over the rounds. */
  nsPerOp: number;
  /** Fastest and slowest round, CPU ns/op. */
  min: number;
  max: number;
  /** Median wall-clock ns/op. */
  wall: number;
  rounds: number;
}

function now(): bigint {
  return process.hrtime.bigint();
}

function cpuNs(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) * 1000;
}

const gc = (globalThis as { gc?: () => void }).gc;

/** median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * interleave measures `cases` round-robin: `rounds` rounds, each running every case once for its
 * `ops` operations, the starting case rotating from round to round. Returns one Result per case,
 * in the order given.
 */
export async function interleave(
  cases: readonly Case[],
  opts: { ops?: number; rounds?: number } = {},
): Promise<Result[]> {
  const rounds = opts.rounds ?? 11;
  const samples = cases.map(() => [] as number[]);
  const walls = cases.map(() => [] as number[]);
  for (const c of cases) await c.run(Math.max(1, Math.floor((c.ops ?? opts.ops ?? 200_000) / 4)));
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < cases.length; k++) {
      const i = (k + r) % cases.length;
      const c = cases[i]!;
      const ops = c.ops ?? opts.ops ?? 200_000;
      gc?.();
      const c0 = cpuNs();
      const t0 = now();
      await c.run(ops);
      const t1 = now();
      samples[i]!.push((cpuNs() - c0) / ops);
      walls[i]!.push(Number(t1 - t0) / ops);
    }
  }
  return cases.map((c, i) => {
    const s = samples[i]!;
    return {
      name: c.name,
      nsPerOp: median(s),
      min: Math.min(...s),
      max: Math.max(...s),
      wall: median(walls[i]!),
      rounds: s.length,
    };
  });
}

/** fmt formats CPU ns/op with its spread and the wall clock: `123.4 ns/op [110..150] wall 180`. */
export function fmt(r: Result): string {
  return `${r.nsPerOp.toFixed(1).padStart(9)} ns/op [${r.min.toFixed(0)}..${r.max.toFixed(0)}] wall ${r.wall.toFixed(0)}`;
}

/** row prints one result line, with free-form notes after it. */
export function row(r: Result, ...notes: string[]): void {
  console.log(`${r.name.padEnd(62)} ${fmt(r)}${notes.length ? `  ${notes.join('; ')}` : ''}`);
}

/**
 * ratio says how `r` compares to a reference and whether it meets `goal` (a maximum ratio):
 * `1.23x Go (goal <= 1.5x: met)`.
 */
export function ratio(r: Result | number, ref: number, refName: string, goal?: number): string {
  const x = (typeof r === 'number' ? r : r.nsPerOp) / ref;
  const verdict = goal === undefined ? '' : ` (goal <= ${goal}x: ${x <= goal ? 'met' : 'MISSED'})`;
  return `${x.toFixed(2)}x ${refName}${verdict}`;
}

/** header prints a table title. */
export function header(title: string): void {
  console.log(`\n## ${title}`);
}

/** The argument that makes a bench file run one of its child parts: `--child <name>`. */
export function childName(): string | undefined {
  const i = process.argv.indexOf('--child');
  return i === -1 ? undefined : process.argv[i + 1];
}

/** childReport is what a child part prints last: its results, as one JSON line. */
export function childReport(results: Result[] | Record<string, unknown>): void {
  console.log(JSON.stringify(results));
}

/**
 * inChild runs the part `name` of the bench file `file` (an import.meta.url) in a fresh Node
 * process (same Node binary, --expose-gc, tsx) and returns what it reported with childReport.
 */
export function inChild<T = Result[]>(file: string, name: string): T {
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', fileURLToPath(file), '--child', name],
    { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, env: process.env },
  );
  if (r.status !== 0) throw new Error(`child part ${name} failed (${r.status}):\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}

/** ServerProcess is a bench server running in a process of its own (see startServerProcess). */
export interface ServerProcess {
  /** url is http://127.0.0.1:<port>/, the port it printed. */
  readonly url: string;
  /** cpuUs is the server process's CPU time so far (user + system), in µs. */
  cpuUs(): Promise<number>;
  /** send writes one command line (a server that knows commands acts on it) and returns its JSON answer. */
  send(command: string): Promise<Record<string, number>>;
  /** stop closes its stdin (it exits then) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * startServerProcess runs `file args` (node, or taskset around node) as a bench server that
 * speaks the line protocol of bench/*-server.ts: it prints {"port": N} once it listens, answers
 * each line on stdin with {"cpuUs": N}, and exits when stdin closes. Each run starts clean and its
 * CPU time is its own.
 */
export async function startServerProcess(file: string, args: string[]): Promise<ServerProcess> {
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () =>
    JSON.parse((await lines.next()).value as string) as { port: number; cpuUs: number } & Record<
      string,
      number
    >;
  const stop = async () => {
    child.stdin.end();
    if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
  };
  try {
    const { port } = await next();
    return {
      url: `http://127.0.0.1:${port}/`,
      async cpuUs() {
        child.stdin.write('cpu\n');
        return (await next()).cpuUs;
      },
      async send(command) {
        child.stdin.write(`${command}\n`);
        return await next();
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
