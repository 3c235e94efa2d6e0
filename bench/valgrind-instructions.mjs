// Counting machine instructions with valgrind, for the *-instructions.mjs benches: each runs one
// of its cases in a child process under `valgrind --tool=cachegrind` and `node --single-threaded
// --predictable` (which makes V8 deterministic: the same build counts the same instructions in
// every run, garbage collection included), once with few and once with many measured operations,
// and reports the difference per operation, so that start-up, warm-up and compilation cancel out.
import { spawnSync } from 'node:child_process';

/** valgrindVersion returns valgrind's version line, or undefined when it is not installed. */
export function valgrindVersion() {
  const probe = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

/**
 * countInstructions runs `script --child=<name> --n=<n>` with this process's node under valgrind
 * and returns the instructions it executed. Throws with valgrind's output when the run fails.
 */
export function countInstructions(script, name, n) {
  const r = spawnSync(
    'valgrind',
    [
      '--tool=cachegrind',
      '--cache-sim=no',
      '--smc-check=all',
      '--cachegrind-out-file=/dev/null',
      process.execPath,
      '--single-threaded',
      '--predictable',
      script,
      `--child=${name}`,
      `--n=${n}`,
    ],
    { encoding: 'utf8' },
  );
  const m = /I\s+refs:\s+([\d,]+)/.exec(r.stderr);
  if (r.status !== 0 || m === null)
    throw new Error(`valgrind run of ${name} failed:\n${r.stderr.slice(-2000)}`);
  return Number(m[1].replaceAll(',', ''));
}
