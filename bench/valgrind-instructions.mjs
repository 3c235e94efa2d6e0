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
  return runCachegrind(script, name, n, false).instructions;
}

/**
 * simulateCaches is countInstructions with cachegrind's cache and branch simulation on (a model
 * of the first-level data cache, the last-level cache and a branch predictor, not this machine's
 * hardware, whose counters a VM does not expose): it returns the instructions, the first-level
 * data cache misses and the mispredicted branches the run executed. About 3x slower.
 */
export function simulateCaches(script, name, n) {
  return runCachegrind(script, name, n, true);
}

function runCachegrind(script, name, n, sim) {
  const r = spawnSync(
    'valgrind',
    [
      '--tool=cachegrind',
      sim ? '--cache-sim=yes' : '--cache-sim=no',
      ...(sim ? ['--branch-sim=yes'] : []),
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
  const count = (label) => {
    const m = new RegExp(`${label}:\\s+([\\d,]+)`).exec(r.stderr);
    return m === null ? undefined : Number(m[1].replaceAll(',', ''));
  };
  const instructions = count('I\\s+refs');
  const d1Misses = sim ? count('D1\\s+misses') : undefined;
  const mispredicts = sim ? count('Mispredicts') : undefined;
  if (
    r.status !== 0 ||
    instructions === undefined ||
    (sim && (d1Misses === undefined || mispredicts === undefined))
  )
    throw new Error(`valgrind run of ${name} failed:\n${r.stderr.slice(-2000)}`);
  return { instructions, d1Misses, mispredicts };
}
