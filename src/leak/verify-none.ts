import { assertNumber, assertOptions, describe, invalidArg } from '../context/internal.js';
import { captureCallerChain } from './caller-chain.js';
import { collectGarbage } from './collect-garbage.js';
import { findLeaks, type LeakScope } from './find-leaks.js';
import { type IgnoreRule, validateIgnoreRules } from './ignore-rules.js';
import { runInternal } from './labels.js';
import type { Leak } from './leak.js';
import { LeakError } from './leak-error.js';
import { currentId } from './record.js';
import { callerChainOf, type Snapshot } from './snapshot.js';
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
export function verifyNone(opts?: VerifyOptions): Promise<void> {
  const where = 'verifyNone(opts)';
  const o = assertOptions(opts, where, ['baseline', 'ignore', 'timeoutMs', 'label']);
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  assertNumber(timeoutMs, where, 'timeoutMs', { min: 0, infinite: true, unit: 'milliseconds' });
  if (o.ignore !== undefined) validateIgnoreRules(o.ignore);
  if (o.baseline !== undefined && !isSnapshot(o.baseline)) {
    throw invalidArg(`${where}: baseline must come from snapshot(), got ${describe(o.baseline)}`);
  }
  if (o.label !== undefined && typeof o.label !== 'string') {
    throw invalidArg(`${where}: label must be a string, got ${describe(o.label)}`);
  }
  const mode = trackingMode();
  if (mode !== 'full') startTracking({ mode: 'full' });
  // Work created after this call cannot be the code under test's: it is the caller's own wait
  // (`await assert.rejects(verifyNone())`) or work started by something already reported. Work the
  // callers of the snapshot's (or this call's) function made after it returned to them is theirs.
  const callers = [callerChainOf(o.baseline), captureCallerChain(verifyNone)].filter((c) => c !== undefined);
  const scope: LeakScope = {
    baseline: o.baseline,
    label: o.label,
    ignore: o.ignore,
    before: currentId(),
    callers,
  };
  return runInternal(() => waitForNone(scope, timeoutMs));
}

function isSnapshot(v: unknown): v is Snapshot {
  try {
    return typeof (v as Snapshot).recordId === 'number' && (v as Snapshot).taskIds instanceof Set;
  } catch {
    return false;
  }
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
  for (let first = true; ; first = false) {
    let leaks = findLeaks(scope);
    if (leaks.length === 0) return { leaks, waitedMs: performance.now() - start };
    // Not on the first pass: the caller's own latest `await` settles its promise only when the
    // caller's synchronous run ends, so a clean check finds it once and is done a turn later,
    // without paying for a full collection (unless there is no later turn: timeoutMs 0).
    const lastChance = performance.now() - start >= timeoutMs;
    if ((!first || lastChance) && performance.now() - lastGc >= GC_INTERVAL_MS) {
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
