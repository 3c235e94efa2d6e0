import { collectGarbage } from './collect-garbage.js';
import { findLeaks, type LeakScope } from './find-leaks.js';
import { type IgnoreRule, validateIgnoreRules } from './ignore-rules.js';
import { runInternal } from './labels.js';
import type { Leak } from './leak.js';
import { LeakError } from './leak-error.js';
import { currentId } from './record.js';
import type { Snapshot } from './snapshot.js';
import { releaseStacks, startTracking, trackingMode } from './tracker.js';

/** Options for verifyNone. */
export interface VerifyOptions {
  /** Accept everything that existed when this snapshot was taken (IgnoreCurrent). */
  baseline?: Snapshot;
  /** Accept matching work; added to the built-in list. */
  ignore?: IgnoreRule[];
  /** How long to wait for outstanding work to finish. Minimum 0. Default: 2000. */
  timeoutMs?: number;
  /** Check only work started under withLabel(label, ...). */
  label?: string;
}

const DEFAULT_TIMEOUT_MS = 2000;
const MAX_BACKOFF_MS = 100;
// A full collection on a big heap can take tens of milliseconds: not on every retry.
const GC_INTERVAL_MS = 200;

/**
 * verifyNone checks that the code under test left nothing behind, like goleak.VerifyNone. It waits
 * for outstanding work with backoff (1 ms doubling to 100 ms, at most `timeoutMs`), collecting
 * garbage so a promise that can never settle is proven abandoned, then rejects with a LeakError
 * listing what is still alive, grouped by creation stack. It resolves within a few milliseconds
 * when nothing is alive. Work is only seen if tracking was on when it started: take a snapshot()
 * first or preload leashjs/leak/register. Safe to call concurrently (use labels to keep concurrent
 * tests apart). Its own timers and promises are never reported.
 *
 * @example
 * const base = snapshot();
 * await handler(req);
 * await verifyNone({ baseline: base, ignore: [{ package: 'pg-pool' }] });
 */
export function verifyNone(opts: VerifyOptions = {}): Promise<void> {
  if (typeof opts !== 'object' || opts === null) throw invalid('verifyNone(opts): opts must be an object');
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
    throw invalid(`verifyNone: timeoutMs must be a number >= 0, got ${String(timeoutMs)}`);
  }
  if (opts.ignore !== undefined) validateIgnoreRules(opts.ignore);
  if (opts.baseline !== undefined && typeof opts.baseline?.recordId !== 'number') {
    throw invalid('verifyNone: baseline must come from snapshot()');
  }
  const mode = trackingMode();
  if (mode !== 'full') startTracking({ mode: 'full' });
  // Work created after this call cannot be the code under test's: it is the caller's own wait
  // (`await assert.rejects(verifyNone())`) or work started by something already reported.
  const scope: LeakScope = {
    baseline: opts.baseline,
    label: opts.label,
    ignore: opts.ignore,
    before: currentId(),
  };
  return runInternal(() => waitForNone(scope, timeoutMs));
}

/** waitForNone is verifyNone without argument checks, shared with the runner plug-ins. */
export async function waitForNone(scope: LeakScope, timeoutMs: number): Promise<void> {
  const leaks = await waitForLeaks(scope, timeoutMs);
  if (leaks.leaks.length > 0) throw new LeakError(leaks.leaks, leaks.waitedMs);
}

/** waitForLeaks waits like verifyNone and returns what is left instead of throwing. */
export async function waitForLeaks(
  scope: LeakScope,
  timeoutMs: number,
): Promise<{ leaks: Leak[]; waitedMs: number }> {
  const start = performance.now();
  let delay = 1;
  let lastGc = Number.NEGATIVE_INFINITY;
  for (;;) {
    let leaks = findLeaks(scope);
    if (leaks.length === 0) return { leaks, waitedMs: performance.now() - start };
    if (performance.now() - lastGc >= GC_INTERVAL_MS) {
      releaseStacks();
      await collectGarbage();
      lastGc = performance.now();
      leaks = findLeaks(scope);
      if (leaks.length === 0) return { leaks, waitedMs: performance.now() - start };
    }
    const waited = performance.now() - start;
    // An abandoned promise can never come back: waiting longer only delays the report.
    const final = leaks.every((l) => l.kind === 'promise' && l.state === 'abandoned');
    if (final || waited >= timeoutMs) return { leaks, waitedMs: waited };
    await new Promise<void>((resolve) => setTimeout(resolve, Math.min(delay, timeoutMs - waited)));
    delay = Math.min(delay * 2, MAX_BACKOFF_MS);
  }
}

function invalid(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'LEASH_ERR_INVALID_ARG' });
}
