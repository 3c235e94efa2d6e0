import { executionAsyncResource } from 'node:async_hooks';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type FoldItem, foldLeaks, visibleFrames } from './fold-leaks.js';
import { builtInIgnored } from './ignore-rules.js';
import { framesOf, groupLeaks, type Leak, type LeakGroup, taskLeak, toLeak } from './leak.js';
import { isListenerPile } from './listener-piles.js';
import type { TrackedRecord } from './record.js';
import type { Frame } from './stack-frames.js';
import { liveTasks } from './task-source.js';
import { abandonedRecords, liveRecords } from './tracker.js';

/** Why a doctor report was written. */
export type ReportReason = 'exit' | 'signal';

/**
 * DoctorReport is what `leash doctor` prints for one process, and what `--json` emits. A report's
 * `leaks` count is the sum of every group's count in keepingAlive, abandoned, pendingAtExit,
 * listenerPiles and tasks.
 */
export interface DoctorReport {
  readonly pid: number;
  readonly ppid: number;
  readonly argv: readonly string[];
  readonly reason: ReportReason;
  readonly uptimeMs: number;
  /** Ref'd handles and timers: what stops the process from exiting. */
  readonly keepingAlive: readonly LeakGroup[];
  /** Promises garbage-collected while pending: proven never to settle. */
  readonly abandoned: readonly LeakGroup[];
  /** At exit only: promises of the application still pending (they never settled). */
  readonly pendingAtExit: readonly LeakGroup[];
  /** Two or more listeners from the same line on the same emitter and event, never removed. */
  readonly listenerPiles: readonly LeakGroup[];
  /** leash tasks still running. */
  readonly tasks: readonly LeakGroup[];
  /** Open but unref'd resources (they do not hold the process; listed, not counted). */
  readonly unrefed: readonly LeakGroup[];
  readonly leaks: number;
}

/**
 * followedProcesses reads the processes `leash doctor` follows (each announces itself in the doctor's
 * folder at start, with its ancestors): the pids of every followed Node process and of every process
 * between it and the doctor (the `sh -c` of `npm start`, tsx's launcher).
 */
function followedProcesses(dir: string | undefined): { pids: Set<number>; launchers: Set<number> } {
  const pids = new Set<number>();
  // Every process that started (or leads to) another followed one: npm, npx, tsx's launcher.
  const launchers = new Set<number>();
  if (dir === undefined) return { pids, launchers };
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return { pids, launchers };
  }
  for (const name of names) {
    if (!name.endsWith('.process')) continue;
    try {
      const info = JSON.parse(readFileSync(join(dir, name), 'utf8')) as { pid: number; ancestors: number[] };
      pids.add(info.pid);
      for (const a of info.ancestors) {
        pids.add(a);
        launchers.add(a);
      }
    } catch {
      // Being written or removed: skip it.
    }
  }
  return { pids, launchers };
}

/**
 * isPlumbing reports whether a resource is a launcher's own wait on a followed process: the child
 * process handle of `npm start`, `npx`, tsx or `sh -c` whose child is (or leads to) a Node process
 * the doctor follows. That process's own report says what keeps it alive; the launcher waiting on it
 * is not a leak of the launcher.
 */
function isPlumbing(rec: TrackedRecord, followed: ReadonlySet<number>): boolean {
  if (rec.type !== 'PROCESSWRAP' || followed.size === 0) return false;
  const pid = (rec.target as { pid?: unknown } | undefined)?.pid;
  return typeof pid === 'number' && followed.has(pid);
}

/**
 * buildReport collects the report from the tracker. Call it after collecting garbage so abandoned
 * promises are known. Pending promises count only at exit: while the process runs they may still be
 * waiting on something legitimate. `doctorDir` (the doctor's folder) lists the processes it follows,
 * so a child process handle waiting on one of them is not reported (see isPlumbing).
 */
export function buildReport(reason: ReportReason, doctorDir?: string): DoctorReport {
  const { pids: followed, launchers } = followedProcesses(doctorDir);
  // A launcher (npm start, npx) ends after the program it started; what it leaves pending at its
  // own exit (npm's log cleanup, which it never awaits) is the tool's, not the program's. What
  // keeps it alive, or what it abandoned, is still reported.
  const launcher = launchers.has(process.pid);
  // process.exit() from a timer's callback (`setTimeout(() => process.exit(0), n)`) reports from
  // inside that callback: the timer is still armed until it returns, but it is what is ending the
  // process, not something keeping it alive.
  const running = executionAsyncResource();
  const now = Date.now();
  const keeping: Leak[] = [];
  const unrefed: Leak[] = [];
  // Promises pending or abandoned, folded together so one mistake is one item (see fold-leaks.ts).
  const promises: FoldItem[] = [];
  const listeners = new Map<string, { leaks: Leak[]; frames: Frame[] }>();
  for (const rec of liveRecords()) {
    const frames = framesOf(rec);
    if (rec.target === running || builtInIgnored(rec, frames) || isPlumbing(rec, followed)) continue;
    const leak = toLeak(rec, frames, now);
    if (rec.kind === 'resource') (leak.keepsAlive ? keeping : unrefed).push(leak);
    else if (rec.kind === 'promise') promises.push({ leak, rec, frames: visibleFrames(frames) });
    else if (rec.kind === 'listener') {
      const key = `${rec.emitterId}\n${rec.event}\n${leak.site}`;
      const list = listeners.get(key);
      if (list === undefined) listeners.set(key, { leaks: [leak], frames });
      else list.leaks.push(leak);
    }
  }
  for (const rec of abandonedRecords()) {
    const frames = framesOf(rec);
    if (!builtInIgnored(rec, frames)) {
      promises.push({ leak: toLeak(rec, frames, now), rec, frames: visibleFrames(frames) });
    }
  }
  const folded = foldLeaks(promises);
  const abandoned = folded.filter((l) => l.state === 'abandoned');
  const pending = folded.filter((l) => l.state !== 'abandoned');
  // A library's fixed listeners (pg's two 'end' listeners per socket) are not a pile-up.
  const piles = [...listeners.values()]
    .filter((l) => isListenerPile(l.leaks.length, l.frames))
    .flatMap((l) => l.leaks);
  const tasks = liveTasks().map((t) => taskLeak(t, now));
  const groups = {
    keepingAlive: groupLeaks(keeping),
    abandoned: groupLeaks(abandoned),
    pendingAtExit: reason === 'exit' && !launcher ? groupLeaks(pending) : [],
    listenerPiles: groupLeaks(piles),
    tasks: groupLeaks(tasks),
  };
  const count = (gs: readonly LeakGroup[]) => gs.reduce((n, g) => n + g.count, 0);
  return {
    pid: process.pid,
    ppid: process.ppid,
    argv: process.argv.length > 1 ? process.argv.slice(1) : ['[eval]'],
    reason,
    uptimeMs: Math.round(process.uptime() * 1000),
    ...groups,
    unrefed: groupLeaks(unrefed),
    leaks:
      count(groups.keepingAlive) +
      count(groups.abandoned) +
      count(groups.pendingAtExit) +
      count(groups.listenerPiles) +
      count(groups.tasks),
  };
}
