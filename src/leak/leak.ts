import type { TrackedRecord } from './record.js';
import {
  type Frame,
  formatFrame,
  formatSite,
  isLeashFrame,
  isNodeInternal,
  parseStack,
  topFrame,
  userFrame,
} from './stack-frames.js';
import type { TrackedTask } from './task-source.js';
import { keepsAlive } from './tracker.js';

/**
 * Leak is one piece of work still alive (or proven abandoned) when a check ran. `kind` says what
 * it is: a leash task, a Node async resource (type is Node's: Timeout, Interval, Immediate, TCPWRAP,
 * TCPSERVERWRAP, PIPEWRAP, PROCESSWRAP, WORKER, FILEHANDLE ...), a promise, or an event listener
 * (type is the emitter's class). `site` is the application's frame that created it
 * ("path:line:column"), `stack` the creation frames outside Node and leash, top first.
 */
export interface Leak {
  readonly id: number | string;
  readonly kind: 'task' | 'resource' | 'promise' | 'listener';
  readonly type: string;
  /** task: its state; resource: 'active' or 'active (unref)'; promise: 'pending' or 'abandoned'; listener: "listening for 'event'". */
  readonly state: string;
  readonly ageMs: number;
  readonly site: string;
  readonly stack: readonly string[];
  readonly creatorId: number | string | undefined;
  readonly label: string | undefined;
  /** Whether it holds the event loop open (a ref'd handle or timer). */
  readonly keepsAlive: boolean;
}

/**
 * framesOf parses a record's creation stack (empty without stacks). When every frame is Node's or
 * leash's own, the stacks of the callbacks it was created in are appended until one has a frame of
 * the application or a library.
 */
export function framesOf(rec: TrackedRecord): Frame[] {
  const frames = parseStack(rec.origin?.stack);
  let lineage = rec.lineage;
  for (let depth = 0; lineage !== undefined && depth < 4 && topFrame(frames) === undefined; depth++) {
    frames.push(...parseStack(lineage.origin.stack));
    lineage = lineage.parent;
  }
  return frames;
}

function visible(frames: readonly Frame[]): string[] {
  return frames.filter((f) => !isNodeInternal(f) && !isLeashFrame(f)).map(formatFrame);
}

function stateOf(rec: TrackedRecord, alive: boolean): string {
  switch (rec.kind) {
    case 'promise':
      return rec.state === 'abandoned' ? 'abandoned' : 'pending';
    case 'listener':
      return `listening for '${rec.event}'`;
    default:
      return alive ? 'active' : 'active (unref)';
  }
}

/** toLeak turns a tracker record into the public shape. */
export function toLeak(rec: TrackedRecord, frames: readonly Frame[], now: number): Leak {
  const alive = keepsAlive(rec);
  return {
    id: rec.id,
    kind: rec.kind,
    type: rec.type,
    state: stateOf(rec, alive),
    ageMs: Math.max(0, (rec.state === 'abandoned' ? rec.endedAt : now) - rec.createdAt),
    site: rec.origin ? formatSite(userFrame(frames)) : '<no stack: not sampled in debug mode>',
    stack: visible(frames),
    creatorId: rec.kind === 'listener' ? rec.emitterId : rec.creatorId,
    label: rec.label,
    keepsAlive: alive,
  };
}

/** taskLeak turns a leashjs/task TaskInfo into the public shape. */
export function taskLeak(tracked: TrackedTask, now: number): Leak {
  const task = tracked.info;
  const frames = parseStack(task.stack);
  return {
    id: task.id,
    kind: 'task',
    type: task.name || 'task',
    state: task.state,
    ageMs: Math.max(0, now - task.startedAt),
    site: task.stack ? formatSite(userFrame(frames)) : '<no stack>',
    stack: visible(frames),
    creatorId: task.parentId,
    label: tracked.label,
    keepsAlive: false,
  };
}

/** LeakGroup is every leak with the same kind, type, state and creation stack. */
export interface LeakGroup {
  readonly count: number;
  readonly kind: Leak['kind'];
  readonly type: string;
  readonly state: string;
  readonly site: string;
  readonly stack: readonly string[];
  readonly oldestMs: number;
  readonly keepsAlive: boolean;
}

// Columns below the creation site are dropped from the grouping key: an async caller resumed after
// an await reports a different column on the same line than its first synchronous call did.
function stackKey(stack: readonly string[]): string {
  return stack.map((frame) => frame.replace(/:\d+\)?$/, '')).join('\n');
}

// Tasks lead a report: a leash task is what the application started, its promises and timers follow.
function taskFirst(g: LeakGroup): number {
  return g.kind === 'task' ? 0 : 1;
}

/** groupLeaks groups identical creation stacks: tasks first, then largest group first (ties: oldest first). */
export function groupLeaks(leaks: readonly Leak[]): LeakGroup[] {
  const groups = new Map<string, { first: Leak; count: number; oldestMs: number }>();
  for (const leak of leaks) {
    const key = `${leak.kind}\n${leak.type}\n${leak.state}\n${leak.site}\n${stackKey(leak.stack)}`;
    const g = groups.get(key);
    if (g === undefined) groups.set(key, { first: leak, count: 1, oldestMs: leak.ageMs });
    else {
      g.count++;
      g.oldestMs = Math.max(g.oldestMs, leak.ageMs);
    }
  }
  return [...groups.values()]
    .map(({ first, count, oldestMs }) => ({
      count,
      kind: first.kind,
      type: first.type,
      state: first.state,
      site: first.site,
      stack: first.stack,
      oldestMs,
      keepsAlive: first.keepsAlive,
    }))
    .sort((a, b) => taskFirst(a) - taskFirst(b) || b.count - a.count || b.oldestMs - a.oldestMs);
}

/** formatAge renders milliseconds the way Go's goroutine dumps do ("40 ms", "3.2 s", "2 minutes"). */
export function formatAge(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

/** formatGroups renders groups for humans: count, kind and state first, then the user's frame. */
export function formatGroups(groups: readonly LeakGroup[]): string {
  const out: string[] = [];
  for (const g of groups) {
    const what =
      g.kind === 'promise' && g.state === 'abandoned'
        ? 'promise abandoned (garbage-collected while pending: it can never settle)'
        : g.kind === 'promise'
          ? 'promise still pending'
          : g.kind === 'listener'
            ? `listener on ${g.type}, ${g.state}`
            : `${g.kind} ${g.type} [${g.state}]${g.keepsAlive ? ', keeps the process alive' : ''}`;
    out.push(`${g.count} × ${what}, oldest ${formatAge(g.oldestMs)}`);
    out.push(`  created at ${g.site}`);
    for (const frame of g.stack.slice(0, 8)) out.push(`      at ${frame}`);
    if (g.stack.length > 8) out.push(`      ... ${g.stack.length - 8} more frames`);
    out.push('');
  }
  return out.join('\n');
}
