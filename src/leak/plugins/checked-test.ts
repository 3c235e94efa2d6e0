import type { IgnoreRule } from '../ignore-rules.js';
import { runInternal, withLabel } from '../labels.js';
import { startTracking, trackingMode } from '../tracker.js';
import { waitForNone } from '../verify-none.js';

/** Options shared by the runner plug-ins (set through configureLeakCheck). */
export interface LeakCheckOptions {
  /** Accept matching work in every test. */
  ignore?: IgnoreRule[];
  /** How long to wait after each test for its work to finish. Default: 2000. */
  timeoutMs?: number;
}

const options: Required<LeakCheckOptions> = { ignore: [], timeoutMs: 2000 };
let seq = 0;

/**
 * configureLeakCheck sets the options every plug-in uses for the tests that start after the call.
 * Call it from a setup file or at the top of a test file.
 */
export function configureLeakCheck(opts: LeakCheckOptions): void {
  if (opts.ignore !== undefined) options.ignore = opts.ignore;
  if (opts.timeoutMs !== undefined) options.timeoutMs = opts.timeoutMs;
}

/** ensureTracking turns on full tracking if it is not on yet (plug-ins import this first). */
export function ensureTracking(): void {
  const mode = trackingMode();
  if (mode !== 'full') startTracking({ mode: 'full' });
}

/**
 * checkedRun runs one test body under its own label, then checks that everything the body started
 * (directly or through any chain of callbacks) has finished, and throws the LeakError otherwise. A
 * body that fails is rethrown as is, without a check. Concurrent tests have distinct labels, so
 * each is charged only with its own leaks.
 */
export async function checkedRun<T>(name: string, body: () => T | Promise<T>): Promise<T> {
  const label = `${++seq}: ${name}`;
  const result = await withLabel(label, body);
  await runInternal(() => waitForNone({ label, ignore: options.ignore }, options.timeoutMs));
  return result;
}
