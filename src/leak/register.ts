// leashjs/leak/register: preload that turns on leak tracking before the application's first line, for
// `node --import leashjs/leak/register app.js` and for `leash doctor`, which passes it through
// NODE_OPTIONS so child Node processes are tracked too.
//
// Environment:
// - LEASH_TRACK=full|debug|count picks the mode (default full).
// - LEASH_DOCTOR_DIR (set by `leash doctor`): write a JSON report there when the process exits or
//   receives SIGUSR2, instead of anything on stdout or stderr.
// - LEASH_DOCTOR_TRACE (set by `leash doctor --trace FILE`): record a Chrome trace, written next to
//   the report.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectGarbage } from './collect-garbage.js';
import { buildReport, type ReportReason } from './doctor-report.js';
import { runInternal } from './labels.js';
import { startTrace, type TraceRecorder } from './trace-recorder.js';
import { startTracking, type TrackingMode } from './tracker.js';

const mode = (process.env.LEASH_TRACK ?? 'full') as TrackingMode;
startTracking({ mode: ['full', 'debug', 'count'].includes(mode) ? mode : 'full' });

const dir = process.env.LEASH_DOCTOR_DIR;
if (dir) runInternal(() => installDoctor(dir, process.env.LEASH_DOCTOR_TRACE));

function installDoctor(reportDir: string, traceFile: string | undefined): void {
  let seq = 0;
  let exitReported = false;
  const trace: TraceRecorder | undefined = traceFile ? startTrace() : undefined;
  const write = (reason: ReportReason) => {
    const report = buildReport(reason);
    const name = `${process.pid}-${String(++seq).padStart(4, '0')}`;
    if (trace !== undefined) {
      writeFileSync(join(reportDir, `${name}.trace.json`), JSON.stringify(trace.toJSON()));
    }
    // Written under a temporary name and renamed, so the CLI never reads half a report.
    writeFileSync(join(reportDir, `${name}.json.tmp`), JSON.stringify(report));
    renameSync(join(reportDir, `${name}.json.tmp`), join(reportDir, `${name}.json`));
  };
  // beforeExit: the loop is empty, so everything still pending can never settle. Collect garbage
  // first (that schedules a little work of our own; the next beforeExit is ignored) so unreachable
  // promises are proven abandoned.
  process.on('beforeExit', () => {
    if (exitReported) return;
    exitReported = true;
    runInternal(() => {
      collectGarbage().then(() => write('exit'));
    });
  });
  // process.exit() skips beforeExit: report synchronously, without the garbage-collection proof.
  process.on('exit', () => {
    if (exitReported) return;
    exitReported = true;
    write('exit');
  });
  process.on('SIGUSR2', () => {
    runInternal(() => {
      collectGarbage().then(() => write('signal'));
    });
  });
}
