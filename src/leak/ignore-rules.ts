import { describe, invalidArg } from '../context/internal.js';
import type { TrackedRecord } from './record.js';
import {
  type Frame,
  formatFrame,
  isLeashFrame,
  isNodeInternal,
  packageOf,
  topFrame,
} from './stack-frames.js';
import { keepsAlive, resourceFd } from './tracker.js';

/**
 * IgnoreRule tells verifyNone to accept some live work, like goleak's options:
 *
 * - `{ topFrame }`: the first creation frame outside Node and leash matches (IgnoreTopFunction).
 * - `{ anyFrame }`: any creation frame matches (IgnoreAnyFunction).
 * - `{ creator }`: the function that created it, by name (IgnoreCreatedBy).
 * - `{ type }`: the kind or type: 'promise', 'listener', 'task', 'Timeout', 'Interval', 'TCPWRAP' ...
 * - `{ package }`: the first frame outside Node and leash is inside node_modules/<package>/.
 *
 * A string matches a frame when the rendered frame ("fn (path:line:column)") contains it; a RegExp
 * is tested against it. A baseline snapshot is the IgnoreCurrent of this list.
 */
export type IgnoreRule =
  | { readonly topFrame: string | RegExp }
  | { readonly anyFrame: string | RegExp }
  | { readonly creator: string | RegExp }
  | { readonly type: string | RegExp }
  | { readonly package: string };

function matches(pattern: string | RegExp, text: string): boolean {
  return typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text);
}

/** validateIgnoreRules throws a LEASH_ERR_INVALID_ARG TypeError for anything that is not a rule. */
export function validateIgnoreRules(rules: unknown): asserts rules is IgnoreRule[] {
  if (!Array.isArray(rules)) {
    throw invalidArg(`verifyNone(opts): ignore must be an array of IgnoreRule, got ${describe(rules)}`);
  }
  for (const rule of rules) {
    let ok = false;
    try {
      const keys = rule && typeof rule === 'object' ? Object.keys(rule) : [];
      const key = keys[0];
      const value = key === undefined ? undefined : (rule as Record<string, unknown>)[key];
      ok =
        keys.length === 1 &&
        (key === 'package'
          ? typeof value === 'string'
          : ['topFrame', 'anyFrame', 'creator', 'type'].includes(key!) &&
            (typeof value === 'string' || value instanceof RegExp));
    } catch {
      ok = false;
    }
    if (!ok) {
      throw invalidArg(
        `verifyNone(opts): invalid IgnoreRule (${describe(rule)}${ruleKeys(rule)}): use one of { topFrame }, { anyFrame }, { creator }, { type } (string or RegExp) or { package } (string)`,
      );
    }
  }
}

function ruleKeys(rule: unknown): string {
  try {
    return rule && typeof rule === 'object' ? ` with keys ${Object.keys(rule).join(', ') || 'none'}` : '';
  } catch {
    return '';
  }
}

/** matchesRule reports whether one rule accepts a record with the given parsed frames. */
export function matchesRule(rule: IgnoreRule, rec: TrackedRecord, frames: readonly Frame[]): boolean {
  if ('type' in rule) return matches(rule.type, rec.type) || matches(rule.type, rec.kind);
  if ('anyFrame' in rule) return frames.some((f) => matches(rule.anyFrame, formatFrame(f)));
  const top = topFrame(frames);
  if (top === undefined) return false;
  if ('topFrame' in rule) return matches(rule.topFrame, formatFrame(top));
  if ('creator' in rule) {
    const name = top.fn.replace(/^(?:async |new )/, '');
    return typeof rule.creator === 'string'
      ? name === rule.creator || name.endsWith(`.${rule.creator}`)
      : rule.creator.test(name);
  }
  return packageOf(top) === rule.package;
}

// Packages whose own handles and promises are not the application's leaks: the test runners (their
// workers, timers and RPC), tsx's loader, and undici (fetch's keep-alive pool, as bundled by Node or
// installed).
const BUILT_IN_PACKAGES =
  /^(?:vitest|@vitest\/.*|jest|jest-.*|@jest\/.*|tinypool|tinyspy|tsx|esbuild|undici|why-is-node-running)$/;

/**
 * builtInIgnored is the maintained list for Node internals and well-behaved libraries: work created
 * only by Node itself (no frame outside Node and leash), stdin/stdout/stderr handles, Node's bundled
 * undici pool, and the test runners listed above.
 */
export function builtInIgnored(rec: TrackedRecord, frames: readonly Frame[]): boolean {
  if (rec.kind === 'resource') {
    const fd = resourceFd(rec);
    if (fd !== undefined && fd >= 0 && fd <= 2) return true;
  }
  // process.stdout/stderr/stdin are created lazily (by whatever touches them first) and live forever.
  if (rec.kind === 'listener') {
    const fd = (rec.emitter?.deref() as { fd?: unknown } | undefined)?.fd;
    if (typeof fd === 'number' && fd >= 0 && fd <= 2) return true;
  }
  if (rec.origin === undefined) return false;
  const top = topFrame(frames);
  // Node creates FileHandles with no async context, so no stack reaches the application; they are
  // always the application's (fs.promises.open), so they are reported anyway.
  if (top === undefined) return rec.type !== 'FILEHANDLE';
  if (isLeashMachinery(rec, frames)) return true;
  // leash's own long-lived, unref'd handles: the first frame outside Node is leash itself and the
  // handle does not hold the process.
  const creator = frames.find((f) => !isNodeInternal(f));
  if (rec.kind === 'resource' && creator !== undefined && isLeashFrame(creator) && !keepsAlive(rec))
    return true;
  // The promise of an ES module's own evaluation (top-level await) is created at 1:1 by no function.
  if (rec.kind === 'promise' && top.line === 1 && top.column === 1 && top.fn === '') return true;
  const pkg = packageOf(top);
  if (pkg !== undefined && BUILT_IN_PACKAGES.test(pkg)) return true;
  return frames.some(
    (f) => f.file.startsWith('node:internal/deps/undici') || f.file.includes('internal/deps/undici'),
  );
}

// The files of leash's shared machinery: the one keep-alive interval that a blocked operation refs,
// the one timer behind every context deadline, the wait queues' sweep. They are created lazily,
// inside whatever user call needed them first, so their stacks name a user line that did not
// create them.
const MACHINERY = /[\\/](?:keep-alive|deadline-timers|wait-queue)\.[cm]?[jt]s$/;

/**
 * isLeashMachinery reports whether a resource is leash's own shared machinery (created by the
 * files above), ref'd or not. It is never the application's leak: what holds it is a blocked
 * operation, reported as its task or promise. profile() leaves it out too.
 */
export function isLeashMachinery(rec: TrackedRecord, frames: readonly Frame[]): boolean {
  if (rec.kind !== 'resource') return false;
  const creator = frames.find((f) => !isNodeInternal(f));
  return creator !== undefined && isLeashFrame(creator) && MACHINERY.test(creator.file);
}
