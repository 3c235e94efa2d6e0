import { assertNumber, assertOptions, describe, invalidArg } from '../../context/internal.js';
import { type IgnoreRule, validateIgnoreRules } from '../ignore-rules.js';
import { runInternal, withLabel } from '../labels.js';
import { LeakError } from '../leak-error.js';
import { liveRecords, startTracking, trackingMode } from '../tracker.js';
import { waitForNone } from '../verify-none.js';

/** Options shared by the runner plug-ins (set through configureLeakCheck). */
export interface LeakCheckOptions {
  /** Accept matching work in every test. */
  ignore?: IgnoreRule[];
  /** How long to wait after each test for its work to finish. Default: 2000. */
  timeoutMs?: number;
  /**
   * After a test is failed for a leaked handle that holds the process open (a timer, socket, server,
   * child process, worker), unref it so the run can still end: otherwise the runner waits for it
   * forever. The handle keeps working, it only no longer holds the process. Default: true; false
   * leaves leaked handles as they are (the runner then hangs on them, as it would without leash).
   */
  unrefLeaked?: boolean;
}

const KNOWN: readonly (keyof LeakCheckOptions)[] = ['ignore', 'timeoutMs', 'unrefLeaked'];
const options: Required<LeakCheckOptions> = { ignore: [], timeoutMs: 2000, unrefLeaked: true };
let seq = 0;

/**
 * configureLeakCheck sets the options every plug-in uses for the tests that start after the call.
 * Call it from a setup file or at the top of a test file. Unknown keys and bad values throw a
 * TypeError with code LEASH_ERR_INVALID_ARG (a typo such as `{ timeout: 300 }` fails loudly).
 */
export function configureLeakCheck(opts: LeakCheckOptions): void {
  const where = 'configureLeakCheck(opts)';
  if (opts === undefined)
    throw invalidArg(`${where}: opts must be an object such as { timeoutMs: 500 }, got undefined`);
  const o = assertOptions(opts, where, KNOWN);
  if (o.ignore !== undefined) validateIgnoreRules(o.ignore);
  if (o.timeoutMs !== undefined)
    assertNumber(o.timeoutMs, where, 'timeoutMs', { min: 0, unit: 'milliseconds' });
  if (o.unrefLeaked !== undefined && typeof o.unrefLeaked !== 'boolean') {
    throw invalidArg(`${where}: unrefLeaked must be a boolean, got ${describe(o.unrefLeaked)}`);
  }
  if (o.ignore !== undefined) options.ignore = o.ignore;
  if (o.timeoutMs !== undefined) options.timeoutMs = o.timeoutMs;
  if (o.unrefLeaked !== undefined) options.unrefLeaked = o.unrefLeaked;
}

/** ensureTracking turns on full tracking if it is not on yet (plug-ins import this first). */
export function ensureTracking(): void {
  const mode = trackingMode();
  if (mode !== 'full') startTracking({ mode: 'full' });
}

/**
 * unrefLeaked unrefs every leaked resource that holds the process open, once it is reported, so the
 * runner can end. Timers and libuv handles (sockets, servers, child processes, workers) answer
 * unref(); anything else is left alone.
 */
function unrefLeaked(err: LeakError): void {
  const ids = new Set(err.leaks.filter((l) => l.kind === 'resource' && l.keepsAlive).map((l) => l.id));
  if (ids.size === 0) return;
  for (const rec of liveRecords()) {
    if (rec.kind !== 'resource' || !ids.has(rec.id)) continue;
    try {
      (rec.target as { unref?: () => void } | undefined)?.unref?.();
    } catch {
      // A handle that closed meanwhile: nothing to release.
    }
  }
}

/**
 * checkedRun runs one test body under its own label, then checks that everything the body started
 * (directly or through any chain of callbacks) has finished, and throws the LeakError otherwise. A
 * body that fails is rethrown as is, without a check. Concurrent tests have distinct labels, so
 * each is charged only with its own leaks. Leaked handles are unref'd after the report unless
 * `unrefLeaked: false`.
 */
export async function checkedRun<T>(name: string, body: () => T | Promise<T>): Promise<T> {
  const label = `${++seq}: ${name}`;
  const result = await withLabel(label, body);
  try {
    await runInternal(() => waitForNone({ label, ignore: options.ignore }, options.timeoutMs));
  } catch (err) {
    if (options.unrefLeaked && err instanceof LeakError) unrefLeaked(err);
    throw err;
  }
  return result;
}
