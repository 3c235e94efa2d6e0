import { type Frame, isLeashFrame, isNodeInternal, packageOf, parseStack } from './stack-frames.js';

// The goleak pattern `const base = snapshot(); await codeUnderTest(); await verifyNone({ baseline })`
// runs inside a function F that a test runner called and now waits on (mocha's `fn().then(done)`,
// uvu's `await test.handler()`, a hand-written `for (...) await fn()`). What that runner creates
// after F returned to it (its `await fn()` promise, mocha's timeout timer, the promise of the runner
// function itself) was created after the snapshot, so it is in scope, yet it waits on F, which waits
// on verifyNone: it can never be a leak of the code under test, and reporting it fails every clean
// test (uvu) or makes verifyNone wait until the runner times the test out (mocha).
//
// CallerChain is the stack of F's callers when snapshot() or verifyNone() was called. A record was
// made by that chain, not by F or anything F called, when its creation stack runs into the chain at
// a caller frame (same function, and the frames below it on the same lines) with no frame of F above
// that point: the caller had resumed after F returned or suspended. V8 reports an await at the call
// it awaits (same position) and a suspended caller at its await (same line), so both forms match.
// How much of that is excluded depends on who the caller is (see CallerJunction): F may be a helper
// called by the test itself, whose work after the helper returned is the code under test's.
// Promises created from there on as a `then`/await continuation of such a record, and the promise it
// awaits (F's own, or a runner function's), are excluded through the promise hooks' parent links
// (see findLeaks); nothing is ignored by package name.

/** A stack frame and whether V8 printed it as an async continuation ("at async fn (...)"). */
interface ChainFrame extends Frame {
  readonly async: boolean;
}

/** CallerChain is the stack at a snapshot() or verifyNone() call: `fn` first, then its callers. */
export interface CallerChain {
  readonly frames: readonly ChainFrame[];
  /** The indexes in `frames` (from 1) of each caller function, by functionKey. */
  readonly callers: ReadonlyMap<string, readonly number[]>;
}

function functionKey(f: Frame): string {
  return f.fn === '' ? `${f.file}:${f.line}` : `${f.fn}\n${f.file}`;
}

function parseChain(stack: string | undefined): ChainFrame[] {
  if (!stack) return [];
  const out: ChainFrame[] = [];
  for (const line of stack.split('\n')) {
    const frame = parseStack(line)[0];
    if (frame !== undefined) out.push({ ...frame, async: /^\s*at async /.test(line) });
  }
  return out;
}

// Deep enough for a runner's whole chain; captured once per call, so the depth costs nothing per record.
const CHAIN_DEPTH = 200;

/** captureCallerChain records the stack below leash's own frames (the user function first), or undefined when there is none. */
export function captureCallerChain(above: Function): CallerChain | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = CHAIN_DEPTH;
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, above);
  Error.stackTraceLimit = limit;
  const frames = parseChain(holder.stack);
  const first = frames.findIndex((f) => !isLeashFrame(f) && !isNodeInternal(f));
  // Only the user function and its callers: nothing to compare when F has no caller.
  if (first < 0 || first === frames.length - 1) return undefined;
  const chain = frames.slice(first);
  const callers = new Map<string, number[]>();
  for (let k = 1; k < chain.length; k++) {
    if (isNodeInternal(chain[k]!)) continue;
    const key = functionKey(chain[k]!);
    const list = callers.get(key);
    if (list === undefined) callers.set(key, [k]);
    else list.push(k);
  }
  return { frames: chain, callers };
}

// Anonymous functions (an arrow passed to `it`, a module's top-level code) share the empty name:
// they count as the same function only on the same line.
function sameFunction(a: Frame, b: Frame): boolean {
  return a.fn === b.fn && a.file === b.file && (a.fn !== '' || a.line === b.line);
}

function sameLine(a: Frame, b: Frame): boolean {
  return a.file === b.file && a.line === b.line;
}

function samePosition(a: Frame, b: Frame): boolean {
  return sameLine(a, b) && a.column === b.column && a.fn === b.fn;
}

// Whether the frames from `x[j]` down follow the chain from `s[k]` down, as far as both go.
function followsChain(x: readonly Frame[], j: number, s: readonly Frame[], k: number): boolean {
  if (!sameFunction(x[j]!, s[k]!)) return false;
  for (let i = 1; j + i < x.length && k + i < s.length; i++) {
    if (!sameLine(x[j + i]!, s[k + i]!)) return false;
  }
  return true;
}

/**
 * CallerJunction says how a record's creation stack runs into a caller chain:
 * - `'at-call'`: made at the very call that ran F, with nothing of the application or a library
 *   above it: the caller's await or `then` on what F returned (`await fn()`);
 * - `'library'`: made by a library caller after F returned (a runner in node_modules: mocha's
 *   `fn().then(done)` and its timeout timer);
 * - `'application'`: made by an application caller after F returned. Only a promise waiting on one
 *   made before the snapshot (`const p = fn(); await p`) is then the caller's own: the caller may be
 *   the test itself, when snapshot() or verifyNone() is called from a helper.
 */
export type CallerJunction = 'at-call' | 'library' | 'application';

/**
 * callerJunction reports how a record with creation stack `stack` was made by a caller of the
 * function that took `chain` (after that function returned to it), or undefined when it was made by
 * that function, by anything it called, or elsewhere.
 */
export function callerJunction(chain: CallerChain, stack: string | undefined): CallerJunction | undefined {
  const s = chain.frames;
  const self = s[0]!;
  const frames = parseChain(stack);
  for (let j = 0; j < frames.length; j++) {
    const x = frames[j]!;
    if (isNodeInternal(x) || isLeashFrame(x)) continue;
    // The caller's own work is made by its code running, never by a caller suspended at an await
    // (an async frame): what is above such a frame is the work of the callee it awaits.
    if (x.async) {
      if (sameFunction(x, self)) return undefined;
      continue;
    }
    for (const k of chain.callers.get(functionKey(x)) ?? []) {
      if (!followsChain(frames, j, s, k)) continue;
      const above = frames.slice(0, j);
      if (samePosition(x, s[k]!)) {
        // At the very call that is still running F: only what nothing visible is above.
        return above.every((f) => isNodeInternal(f) || isLeashFrame(f)) ? 'at-call' : undefined;
      }
      if (above.some((f) => sameFunction(f, self))) return undefined;
      return packageOf(x) === undefined ? 'application' : 'library';
    }
    // A frame of the function that took the chain, above any junction: its own work.
    if (sameFunction(x, self)) return undefined;
  }
  return undefined;
}
