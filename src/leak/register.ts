// leashjs/leak/register: preload that turns on leak tracking before the application's first line, for
// `node --import leashjs/leak/register app.js` and for `leash doctor`, which passes it through
// NODE_OPTIONS so child Node processes are tracked too.
//
// Environment:
// - LEASH_TRACK=full|debug|count picks the mode (default full; anything else is rejected).
// - LEASH_DOCTOR_DIR (set by `leash doctor`): announce this process there at start, and write a JSON
//   report there when the process exits or receives SIGUSR2, instead of anything on stdout or stderr.
// - LEASH_DOCTOR_TRACE (set by `leash doctor --trace FILE`): record a Chrome trace, written next to
//   the report.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertOneOf } from '../context/internal.js';
import { collectGarbage } from './collect-garbage.js';
import { buildReport, type ReportReason } from './doctor-report.js';
import { runInternal } from './labels.js';
import { startTrace, type TraceRecorder } from './trace-recorder.js';
import { startTracking, type TrackingMode } from './tracker.js';

const MODES: readonly TrackingMode[] = ['full', 'debug', 'count'];

// An empty LEASH_TRACK= is the usual shell spelling of "unset".
const mode = process.env.LEASH_TRACK || 'full';
assertOneOf(mode, 'leashjs/leak/register', 'the environment variable LEASH_TRACK', MODES);
startTracking({ mode });

const dir = process.env.LEASH_DOCTOR_DIR;
if (dir) runInternal(() => installDoctor(dir, process.env.LEASH_DOCTOR_TRACE));

/**
 * ancestors lists this process's parent, grandparent and so on up to (not including) `stopAt`, from
 * /proc where there is one, else just the parent. The doctor uses it to recognise a launcher's child
 * process handle (npm's `sh -c`, tsx's child node) as plumbing rather than a leak.
 */
function ancestors(stopAt: number): number[] {
  const out: number[] = [];
  let pid = process.ppid;
  while (pid > 1 && pid !== stopAt && out.length < 32) {
    out.push(pid);
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      break;
    }
    // "pid (comm) state ppid ...": comm may contain spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!Number.isInteger(ppid)) break;
    pid = ppid;
  }
  return out;
}

function installDoctor(reportDir: string, traceFile: string | undefined): void {
  let seq = 0;
  let exitReported = false;
  const trace: TraceRecorder | undefined = traceFile ? startTrace() : undefined;
  // The folder belongs to `leash doctor`. A process that outlives the doctor (it escaped the process
  // group and was not stopped) finds the folder gone: then nobody is listening, and the report is
  // dropped without a word. The traced program must never fail because of the doctor.
  const attempt = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      try {
        process.stderr.write(
          `leash doctor: could not write the ${what} of pid ${process.pid}: ${String(err)}\n`,
        );
      } catch {
        // stderr closed: nothing more to do.
      }
    }
  };
  attempt('announcement', () => {
    const doctorPid = Number(process.env.LEASH_DOCTOR_PID) || 0;
    const info = JSON.stringify({ pid: process.pid, ancestors: ancestors(doctorPid) });
    writeFileSync(join(reportDir, `${process.pid}.process.tmp`), info);
    renameSync(join(reportDir, `${process.pid}.process.tmp`), join(reportDir, `${process.pid}.process`));
  });
  const write = (reason: ReportReason) =>
    attempt('report', () => {
      const report = buildReport(reason, reportDir);
      const name = `${process.pid}-${String(++seq).padStart(4, '0')}`;
      if (trace !== undefined) {
        writeFileSync(join(reportDir, `${name}.trace.json`), JSON.stringify(trace.toJSON()));
      }
      // Written under a temporary name and renamed, so the CLI never reads half a report.
      writeFileSync(join(reportDir, `${name}.json.tmp`), JSON.stringify(report));
      renameSync(join(reportDir, `${name}.json.tmp`), join(reportDir, `${name}.json`));
    });
  const collectThenWrite = (reason: ReportReason) =>
    collectGarbage().then(
      () => write(reason),
      () => write(reason),
    );
  // beforeExit: the loop is empty, so everything still pending can never settle. Collect garbage
  // first (that schedules a little work of our own; the next beforeExit is ignored) so unreachable
  // promises are proven abandoned.
  process.on('beforeExit', () => {
    if (exitReported) return;
    exitReported = true;
    runInternal(() => collectThenWrite('exit'));
  });
  // process.exit() skips beforeExit: report synchronously, without the garbage-collection proof.
  process.on('exit', () => {
    if (exitReported) return;
    exitReported = true;
    write('exit');
  });
  process.on('SIGUSR2', () => {
    runInternal(() => collectThenWrite('signal'));
  });
}
