#!/usr/bin/env node
// The `leash` command. `leash doctor [--json] [--trace FILE] [--timeout MS] -- command ...` runs a
// program with leak tracking preloaded (no change to the program) and reports what kept it alive and
// what it abandoned. Reports travel through files in a private folder under os.tmpdir(), so the
// program's own stdout and stderr pass through untouched.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DoctorReport } from './doctor-report.js';
import { formatGroups, type LeakGroup } from './leak.js';

/** Exit codes of `leash doctor`. */
const EXIT = {
  clean: 0,
  failure: 1,
  usage: 2,
  leaks: 3,
  hung: 4,
} as const;

const usage = `Usage: leash doctor [--json] [--trace FILE] [--timeout MS] -- command [args...]

Runs command (any Node program, or a command that starts one) with leash's leak tracker preloaded
into every Node process it starts, and reports, grouped by creation site:
  - what keeps the process alive (timers, intervals, sockets, servers, child processes, workers)
  - promises proven abandoned (garbage-collected while pending) and, at exit, promises never settled
  - listeners piling up on one emitter, and leash tasks still running
A report is printed when the program exits, when it is still running after --timeout (then it is
stopped), and each time it receives SIGUSR2 (send it to leash doctor or to the program).

Options:
  --json        print the reports as JSON on stdout (after the program's own output)
  --trace FILE  also record a Chrome trace-event file (open in ui.perfetto.dev)
  --timeout MS  stop waiting after MS milliseconds (default 10000; 0 waits forever)

Exit codes: 0 no leaks; 3 leaks found; 4 the program was still running at --timeout (the report
says what kept it alive); 2 usage error; 1 doctor failure; otherwise the program's own non-zero code.
`;

interface Args {
  json: boolean;
  trace: string | undefined;
  timeoutMs: number;
  command: string[];
}

function parse(argv: string[]): Args | string {
  if (argv[0] !== 'doctor')
    return argv.length === 0 || argv[0] === '--help' ? '' : `unknown command ${argv[0]}`;
  const args: Args = { json: false, trace: undefined, timeoutMs: 10_000, command: [] };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.command = argv.slice(i + 1);
      break;
    }
    if (a === '--json') args.json = true;
    else if (a === '--trace') args.trace = argv[++i];
    else if (a === '--timeout') args.timeoutMs = Number(argv[++i]);
    else if (a === '--help' || a === '-h') return '';
    else {
      args.command = argv.slice(i);
      break;
    }
  }
  if (args.command.length === 0) return 'missing command: leash doctor -- node app.js';
  if (!(args.timeoutMs >= 0)) return '--timeout must be a number of milliseconds >= 0';
  if (args.trace === '') return '--trace needs a file name';
  return args;
}

function readReports(dir: string, seen: Set<string>): DoctorReport[] {
  const out: DoctorReport[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.json') || name.endsWith('.trace.json') || seen.has(name)) continue;
    seen.add(name);
    out.push(JSON.parse(readFileSync(join(dir, name), 'utf8')) as DoctorReport);
  }
  return out;
}

function section(title: string, groups: readonly LeakGroup[]): string {
  if (groups.length === 0) return '';
  const n = groups.reduce((s, g) => s + g.count, 0);
  return `${title} (${n}):\n${formatGroups(groups)}`;
}

function render(r: DoctorReport): string {
  const when = r.reason === 'exit' ? 'at exit' : `on request (SIGUSR2 or --timeout) after ${r.uptimeMs} ms`;
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

async function doctor(args: Args): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'leash-doctor-'));
  const register = new URL('./register.js', import.meta.url).href;
  const env = {
    ...process.env,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${JSON.stringify(register)}`.trim(),
    LEASH_DOCTOR_DIR: dir,
    ...(args.trace ? { LEASH_DOCTOR_TRACE: '1' } : {}),
  };
  const child = spawn(args.command[0]!, args.command.slice(1), { stdio: 'inherit', env });
  const seen = new Set<string>();
  const reports: DoctorReport[] = [];
  const print = () => {
    for (const r of readReports(dir, seen)) {
      reports.push(r);
      if (!args.json) process.stderr.write(`${render(r)}\n`);
    }
  };
  let hung = false;
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  process.on('SIGINT', forward('SIGINT'));
  process.on('SIGTERM', forward('SIGTERM'));
  process.on('SIGUSR2', forward('SIGUSR2'));
  const poll = setInterval(print, 250);
  let timer: NodeJS.Timeout | undefined;
  if (args.timeoutMs > 0) {
    timer = setTimeout(() => {
      hung = true;
      child.kill('SIGUSR2');
      // Give the program a moment to write its report, then stop it.
      const waitStart = Date.now();
      const check = setInterval(() => {
        const ready = readdirSync(dir).some((n) => n.startsWith(`${child.pid}-`) && n.endsWith('.json'));
        if (ready || Date.now() - waitStart > 5000) {
          clearInterval(check);
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 2000).unref();
        }
      }, 50);
    }, args.timeoutMs);
  }
  const code = await new Promise<number>((resolve) => {
    child.once('error', (err) => {
      process.stderr.write(`leash doctor: cannot start ${args.command[0]}: ${err.message}\n`);
      resolve(EXIT.failure);
    });
    child.once('exit', (c, signal) => resolve(c ?? (signal ? 128 : EXIT.failure)));
  });
  clearInterval(poll);
  if (timer) clearTimeout(timer);
  print();
  if (args.trace) {
    const traces = readdirSync(dir)
      .filter((n) => n.endsWith('.trace.json'))
      .sort();
    const main = traces.filter((n) => n.startsWith(`${child.pid}-`)).pop() ?? traces.pop();
    if (main) copyFileSync(join(dir, main), args.trace);
  }
  rmSync(dir, { recursive: true, force: true });
  // A SIGUSR2 report is a look at a running process; only each process's last report (at exit or
  // at --timeout) decides the exit code.
  const last = new Map<number, DoctorReport>();
  for (const r of reports) last.set(r.pid, r);
  const leaks = [...last.values()].reduce((n, r) => n + r.leaks, 0);
  if (args.json) process.stdout.write(`${JSON.stringify({ leaks, hung, exitCode: code, reports })}\n`);
  else if (reports.length === 0) {
    process.stderr.write('leash doctor: no report was written (was the program a Node process?)\n');
  }
  if (hung) return EXIT.hung;
  if (leaks > 0) return EXIT.leaks;
  return code === 0 ? EXIT.clean : code;
}

const parsed = parse(process.argv.slice(2));
if (typeof parsed === 'string') {
  if (parsed) process.stderr.write(`leash: ${parsed}\n\n`);
  process.stderr.write(usage);
  process.exitCode = parsed ? EXIT.usage : EXIT.clean;
} else {
  process.exitCode = await doctor(parsed);
  process.exit();
}
