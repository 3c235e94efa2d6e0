#!/usr/bin/env node
// The `leash` command. `leash doctor [--json FILE] [--trace FILE] [--timeout MS] -- command ...` runs
// a command in its own process group with leak tracking preloaded into every Node process it starts
// (no change to the program), and reports what kept each one alive and what it abandoned. Reports
// travel through files in a private folder under os.tmpdir(), so the program's own stdin, stdout and
// stderr pass through untouched.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { closest } from '../context/internal.js';
import type { DoctorReport } from './doctor-report.js';
import { formatGroups, type LeakGroup } from './leak.js';

/** Exit codes of `leash`. The program's own code passes through when nothing leaked. */
const EXIT = {
  clean: 0,
  usage: 2,
  leaks: 3,
  hung: 4,
  /** leash doctor itself failed (its folder, the --json or --trace file). */
  failure: 125,
  /** The command was found but could not be run (permission). */
  cannotRun: 126,
  /** The command was not found. */
  notFound: 127,
} as const;

const MODES = ['full', 'debug', 'count'];
const REPORT_WAIT_MS = 5000;
const TERM_GRACE_MS = 2000;

const usage = `Usage: leash doctor [--json FILE] [--trace FILE] [--timeout MS] -- command [args...]
       leash load [options] URL   (leash load --help: the load generator and its SLA gate)
       leash --help | --version

Runs command in its own process group with leash's leak tracker preloaded into every Node process
it starts (node app.js, npm start, npx tsx app.ts, sh -c '...'), and reports on stderr, per process
and grouped by creation site:
  - what keeps the process alive (timers, intervals, sockets, servers, child processes, workers)
  - promises proven abandoned (garbage-collected while pending) and, at exit, promises never settled
  - listeners piling up on one emitter, and leash tasks still running
A report is written when a process exits, when it receives SIGUSR2 (send it to leash doctor), and
when the command is still running at --timeout or left processes running after it exited; then the
whole process group is stopped (SIGTERM, then SIGKILL).

Options:
  --json FILE   also write every report as JSON to FILE (never mixed into the program's stdout)
  --trace FILE  also write a Chrome trace-event file of every Node process (open in ui.perfetto.dev)
  --timeout MS  stop the command after MS milliseconds (default 10000; 0 waits forever)
  -h, --help    print this help on stdout
  -V, --version print the version

Exit codes:
  0    no leaks and the program exited 0
  N    no leaks: the program's own exit code N (128+n when killed by signal n)
  3    leaks found, or processes left running after the command exited
  4    the command was still running at --timeout (the report says what kept it alive)
  2    usage error
  125  leash doctor itself failed; 126 the command cannot be run; 127 the command was not found

Environment: LEASH_TRACK=full|debug|count (default full) picks the tracking mode.
`;

type Parsed =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'usage'; message: string }
  | { kind: 'doctor'; args: Args }
  | { kind: 'load'; argv: string[] };

interface Args {
  json: string | undefined;
  trace: string | undefined;
  timeoutMs: number;
  command: string[];
}

const OPTIONS = ['--json', '--trace', '--timeout', '--help', '-h'];

function parse(argv: string[]): Parsed {
  const first = argv[0];
  if (first === undefined) return { kind: 'usage', message: '' };
  if (first === '--help' || first === '-h' || first === 'help') return { kind: 'help' };
  if (first === '--version' || first === '-V' || first === 'version') return { kind: 'version' };
  if (first === 'load') return { kind: 'load', argv: argv.slice(1) };
  if (first !== 'doctor') {
    const guess = closest(first.replace(/^-+/, ''), ['doctor', 'load', 'help', 'version']);
    return {
      kind: 'usage',
      message: `unknown ${first.startsWith('-') ? 'option' : 'command'} ${first}${guess ? `; did you mean ${first.startsWith('-') ? `--${guess}` : guess}?` : ''}`,
    };
  }
  const args: Args = { json: undefined, trace: undefined, timeoutMs: 10_000, command: [] };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.command = argv.slice(i + 1);
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      args.command = argv.slice(i);
      break;
    }
    if (a === '--help' || a === '-h') return { kind: 'help' };
    const eq = a.indexOf('=');
    const flag = eq > 0 ? a.slice(0, eq) : a;
    if (flag !== '--json' && flag !== '--trace' && flag !== '--timeout') {
      const guess = closest(flag.replace(/^-+/, ''), ['json', 'trace', 'timeout', 'help']);
      return {
        kind: 'usage',
        message: `unknown option ${flag}${guess ? `; did you mean --${guess}?` : ''} (options: ${OPTIONS.join(', ')}; put the command after --)`,
      };
    }
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    // `--trace -- node x.mjs` forgot the file: never take "--" or another option as its value.
    if (value === undefined || value === '' || (eq < 0 && value.startsWith('-'))) {
      const what = flag === '--timeout' ? 'a number of milliseconds' : 'a file name';
      return {
        kind: 'usage',
        message: `${flag} needs ${what}${value === undefined || value === '' ? '' : `, got ${value}`}`,
      };
    }
    if (flag === '--json') args.json = value;
    else if (flag === '--trace') args.trace = value;
    else {
      if (!/^\d+$/.test(value)) {
        return {
          kind: 'usage',
          message: `--timeout must be a whole number of milliseconds >= 0, got ${value}`,
        };
      }
      args.timeoutMs = Number(value);
    }
  }
  if (args.command.length === 0)
    return { kind: 'usage', message: 'missing command: leash doctor -- node app.js' };
  const track = process.env.LEASH_TRACK;
  if (track && !MODES.includes(track)) {
    const guess = closest(track, MODES);
    return {
      kind: 'usage',
      message: `LEASH_TRACK must be one of ${MODES.join(', ')}, got ${JSON.stringify(track)}${guess ? `; did you mean ${guess}?` : ''}`,
    };
  }
  return { kind: 'doctor', args };
}

/** What made a process write a report. */
type Trigger = 'exit' | 'SIGUSR2' | 'timeout' | 'orphaned';

/** A report as `leash doctor` prints it and writes it with --json: the process's own, and why. */
type TriggeredReport = DoctorReport & { readonly trigger: Trigger };

function section(title: string, groups: readonly LeakGroup[]): string {
  if (groups.length === 0) return '';
  const n = groups.reduce((s, g) => s + g.count, 0);
  return `${title} (${n}):\n${formatGroups(groups)}`;
}

function render(r: TriggeredReport, timeoutMs: number): string {
  const when =
    r.trigger === 'exit'
      ? 'at exit'
      : r.trigger === 'timeout'
        ? `still running at --timeout ${timeoutMs} ms (uptime ${r.uptimeMs} ms)`
        : r.trigger === 'orphaned'
          ? `still running after the command exited (uptime ${r.uptimeMs} ms)`
          : `on SIGUSR2 after ${r.uptimeMs} ms`;
  const head = `leash doctor: ${r.argv.join(' ')} (pid ${r.pid}) ${when}: ${
    r.leaks === 0 ? 'no leaks' : `${r.leaks} leaked`
  }`;
  return [
    head,
    section('What keeps the process alive', r.keepingAlive),
    section('Abandoned: garbage-collected while pending, can never settle', r.abandoned),
    section('Pending at exit: never settled', r.pendingAtExit),
    section('Listeners piling up on one emitter', r.listenerPiles),
    section('leash tasks still running', r.tasks),
    section('Open but unref’d (not holding the process; not counted)', r.unrefed),
  ]
    .filter(Boolean)
    .join('\n');
}

/** procStat returns the fields after "(comm)" of /proc/PID/stat (state, ppid, pgrp, ...), or undefined. */
function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

const hasProc = procStat(process.pid) !== undefined;

/** alive reports whether a process is running; a zombie (exited, not yet reaped) is not. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !hasProc || procStat(pid)?.[0] !== 'Z';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** groupMembers lists the running processes of a process group, from /proc (Linux); undefined elsewhere. */
function groupMembers(pgid: number): number[] | undefined {
  if (!hasProc) return undefined;
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const fields = procStat(Number(name));
    if (fields !== undefined && Number(fields[2]) === pgid && fields[0] !== 'Z') out.push(Number(name));
  }
  return out;
}

/** Merges each process's last trace into one Chrome trace: ids are made unique per process. */
function mergeTraces(dir: string): unknown {
  const last = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    if (name.endsWith('.trace.json')) last.set(name.slice(0, name.indexOf('-')), name);
  }
  const traceEvents: Array<Record<string, unknown>> = [];
  for (const [pid, name] of last) {
    const trace = JSON.parse(readFileSync(join(dir, name), 'utf8')) as {
      traceEvents: Array<Record<string, unknown>>;
    };
    for (const e of trace.traceEvents)
      traceEvents.push(e.id === undefined ? e : { ...e, id: `${pid}:${e.id}` });
  }
  return { traceEvents, displayTimeUnit: 'ms', otherData: { source: 'leash doctor' } };
}

async function doctor(args: Args): Promise<number> {
  const posix = process.platform !== 'win32';
  let dir: string;
  try {
    dir = mkdtempSync(join(tmpdir(), 'leash-doctor-'));
  } catch (err) {
    process.stderr.write(`leash doctor: cannot create its folder: ${String(err)}\n`);
    return EXIT.failure;
  }
  const register = new URL('./register.js', import.meta.url).href;
  const env = {
    ...process.env,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${JSON.stringify(register)}`.trim(),
    LEASH_DOCTOR_DIR: dir,
    LEASH_DOCTOR_PID: String(process.pid),
    ...(args.trace ? { LEASH_DOCTOR_TRACE: '1' } : {}),
  };
  // Its own process group (a new session), so a timeout or Ctrl-C reaches every process the command
  // started, not only the first: nothing is left running under PID 1.
  const child = spawn(args.command[0]!, args.command.slice(1), { stdio: 'inherit', env, detached: posix });
  const pgid = child.pid;

  const seen = new Set<string>();
  const reports: TriggeredReport[] = [];
  const requested = new Map<number, Trigger>();
  const reportCount = new Map<number, number>();
  const collect = () => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.endsWith('.json') || name.endsWith('.trace.json') || seen.has(name)) continue;
      seen.add(name);
      const r = JSON.parse(readFileSync(join(dir, name), 'utf8')) as DoctorReport;
      let trigger: Trigger = 'exit';
      if (r.reason === 'signal') {
        trigger = requested.get(r.pid) ?? 'SIGUSR2';
        requested.delete(r.pid);
      }
      const report: TriggeredReport = { ...r, trigger };
      reports.push(report);
      reportCount.set(r.pid, (reportCount.get(r.pid) ?? 0) + 1);
      process.stderr.write(`${render(report, args.timeoutMs)}\n`);
    }
  };
  /** The followed Node processes (each announced itself in the folder) still running. */
  const followed = (): number[] => {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      // Removed: nothing followed any more.
    }
    return names
      .filter((n) => n.endsWith('.process'))
      .map((n) => Number(n.slice(0, -'.process'.length)))
      .filter(alive);
  };
  const groupAlive = () => {
    if (pgid === undefined || !posix) return false;
    const members = groupMembers(pgid);
    if (members !== undefined) return members.length > 0;
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const signalAll = (signal: NodeJS.Signals) => {
    if (pgid === undefined) return;
    try {
      if (posix) process.kill(-pgid, signal);
      else child.kill(signal);
    } catch {
      // Already gone.
    }
    // A Node process that left the group (detached) is still followed.
    for (const pid of followed()) {
      try {
        process.kill(pid, signal);
      } catch {
        // Already gone.
      }
    }
  };
  // SIGUSR2 goes to the followed Node processes only: a shell or other launcher in the group would
  // die of it (its default action).
  const requestReports = async (trigger: Trigger): Promise<void> => {
    const pids = followed();
    const before = new Map(pids.map((p) => [p, reportCount.get(p) ?? 0]));
    for (const pid of pids) {
      requested.set(pid, trigger);
      try {
        process.kill(pid, 'SIGUSR2');
      } catch {
        requested.delete(pid);
      }
    }
    const start = Date.now();
    while (Date.now() - start < REPORT_WAIT_MS) {
      collect();
      if (pids.every((p) => (reportCount.get(p) ?? 0) > before.get(p)! || !alive(p))) return;
      await sleep(50);
    }
  };
  const stopAll = async (): Promise<void> => {
    signalAll('SIGTERM');
    const start = Date.now();
    while (Date.now() - start < TERM_GRACE_MS) {
      if (!groupAlive() && followed().length === 0) return;
      await sleep(50);
    }
    signalAll('SIGKILL');
    for (let i = 0; i < 20 && (groupAlive() || followed().length > 0); i++) await sleep(50);
  };

  // Whether anything of the command is still running a moment after it exited (a grandchild that
  // is exiting at the same time is given that moment).
  const outlived = async (): Promise<boolean> => {
    for (let i = 0; i < 5; i++) {
      if (!groupAlive() && followed().length === 0) return false;
      await sleep(40);
    }
    return true;
  };
  const forward = (signal: NodeJS.Signals) => () => signalAll(signal);
  const onSigusr2 = () => void requestReports('SIGUSR2');
  process.on('SIGINT', forward('SIGINT'));
  process.on('SIGTERM', forward('SIGTERM'));
  process.on('SIGHUP', forward('SIGHUP'));
  process.on('SIGUSR2', onSigusr2);
  const poll = setInterval(collect, 250);

  type Ended = { code: number | null; signal: NodeJS.Signals | null; startError?: NodeJS.ErrnoException };
  const ended = new Promise<Ended>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) =>
      resolve({ code: null, signal: null, startError: err }),
    );
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    if (args.timeoutMs > 0) timer = setTimeout(() => resolve('timeout'), args.timeoutMs);
  });
  let hung = false;
  let orphans: number[] = [];
  let end = await Promise.race([ended, timedOut]);
  if (end === 'timeout') {
    hung = true;
    await requestReports('timeout');
    await stopAll();
    end = await ended;
  } else if (!end.startError && (await outlived())) {
    // The command exited but left processes running (`sh -c 'node server.js &'`): ask the Node ones
    // what keeps them alive, then stop the group.
    orphans = [...new Set([...(groupMembers(pgid!) ?? []), ...followed()])];
    if (orphans.length === 0) orphans = [-1];
    await requestReports('orphaned');
    await stopAll();
  }
  clearInterval(poll);
  if (timer) clearTimeout(timer);
  process.off('SIGUSR2', onSigusr2);
  collect();

  let failed = false;
  if (args.trace) {
    try {
      writeFileSync(args.trace, JSON.stringify(mergeTraces(dir)));
    } catch (err) {
      process.stderr.write(`leash doctor: cannot write the trace to ${args.trace}: ${String(err)}\n`);
      failed = true;
    }
  }
  rmSync(dir, { recursive: true, force: true });

  // A SIGUSR2 report is a look at a running process; only each process's last report (at exit, at
  // --timeout, or when it outlived the command) decides the exit code.
  const last = new Map<number, TriggeredReport>();
  for (const r of reports) last.set(r.pid, r);
  const leaks = [...last.values()].reduce((n, r) => n + r.leaks, 0);
  const programCode =
    end.code ?? (end.signal ? 128 + (constants.signals[end.signal] ?? 0) : end.startError ? null : 1);
  if (end.startError) {
    process.stderr.write(`leash doctor: cannot run ${args.command[0]}: ${end.startError.message}\n`);
  } else if (reports.length === 0) {
    process.stderr.write('leash doctor: no Node process reported (was the command a Node program?)\n');
  }
  if (orphans.length > 0) {
    const which = orphans[0] === -1 ? '' : ` (pid ${orphans.join(', ')})`;
    process.stderr.write(
      `leash doctor: the command exited but left ${orphans[0] === -1 ? 'processes' : `${orphans.length} process(es)`} running${which}; stopped them\n`,
    );
  }
  if (args.json) {
    const out = {
      leaks,
      hung,
      orphans: orphans.filter((p) => p > 0),
      exitCode: programCode,
      signal: end.signal ?? null,
      reports,
    };
    try {
      writeFileSync(args.json, `${JSON.stringify(out)}\n`);
    } catch (err) {
      process.stderr.write(`leash doctor: cannot write --json ${args.json}: ${String(err)}\n`);
      failed = true;
    }
  }
  if (end.startError) return end.startError.code === 'ENOENT' ? EXIT.notFound : EXIT.cannotRun;
  if (failed) return EXIT.failure;
  if (hung) return EXIT.hung;
  if (leaks > 0 || orphans.length > 0) return EXIT.leaks;
  return programCode ?? EXIT.failure;
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

const parsed = parse(process.argv.slice(2));
if (parsed.kind === 'help') {
  process.stdout.write(usage);
  process.exitCode = EXIT.clean;
} else if (parsed.kind === 'version') {
  process.stdout.write(`leash ${version()}\n`);
  process.exitCode = EXIT.clean;
} else if (parsed.kind === 'usage') {
  // Bare `leash`: the whole usage. A mistake: the message and the synopsis, not a wall of text.
  if (parsed.message) {
    const synopsis = usage.slice(0, usage.indexOf('\n\n'));
    process.stderr.write(
      `leash: ${parsed.message}\n${synopsis}\nRun leash --help for the options and exit codes.\n`,
    );
  } else process.stderr.write(usage);
  process.exitCode = EXIT.usage;
} else if (parsed.kind === 'load') {
  // Loaded only for `leash load`: doctor's start-up stays as it was.
  const { loadCommand } = await import('../load/index.js');
  let code: number;
  try {
    code = await loadCommand(parsed.argv);
  } catch (err) {
    process.stderr.write(`leash load: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
    code = EXIT.failure;
  }
  process.exitCode = code;
  process.exit();
} else {
  let code: number;
  try {
    code = await doctor(parsed.args);
  } catch (err) {
    process.stderr.write(`leash doctor: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
    code = EXIT.failure;
  }
  process.exitCode = code;
  process.exit();
}
