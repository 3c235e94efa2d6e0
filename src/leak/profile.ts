import { assertOneOf, assertOptions } from '../context/internal.js';
import { isLeashMachinery } from './ignore-rules.js';
import { formatAge, framesOf, groupLeaks, type Leak, taskLeak, toLeak } from './leak.js';
import { liveTasks } from './task-source.js';
import { counts, liveRecords, trackingMode } from './tracker.js';

/** Options for profile. */
export interface ProfileOptions {
  /** 1: identical stacks grouped, counts first, largest first; 2: one entry per item with state and age. Default: 1. */
  debug?: 1 | 2;
  /** Default: 'text'. */
  format?: 'text' | 'json';
}

/**
 * profile returns what is alive now, like Go's goroutine profile: leash tasks, and with tracking in
 * debug or full mode the open resources, pending promises and attached listeners with their creation
 * stacks. `debug: 1` groups identical stacks with counts (`N @ ...`, sorted by count); `debug: 2`
 * prints one entry per item with its state and age (`task 7 [chan receive, 3 minutes]:`). In count
 * mode (or with tracking off) it lists counts by type without stacks. `format: 'json'` returns the
 * same data as JSON text. Read-only and safe to call at any time; cost is linear in what is alive.
 */
export function profile(opts?: ProfileOptions): string {
  const o = assertOptions(opts, 'profile(opts)', ['debug', 'format']);
  const debug = o.debug ?? 1;
  const format = o.format ?? 'text';
  assertOneOf(debug, 'profile(opts)', 'debug', [1, 2] as const);
  assertOneOf(format, 'profile(opts)', 'format', ['text', 'json'] as const);
  const now = Date.now();
  const items: Leak[] = liveTasks().map((t) => taskLeak(t, now));
  for (const rec of liveRecords()) {
    const frames = framesOf(rec);
    // leash's own keep-alive and deadline timers are never shown as the application's.
    if (!isLeashMachinery(rec, frames)) items.push(toLeak(rec, frames, now));
  }
  const c = counts();
  const mode = trackingMode();
  const stackless = mode === undefined || mode === 'count';
  if (format === 'json') {
    return JSON.stringify(
      debug === 1
        ? { total: items.length, mode: mode ?? 'off', counts: c, groups: groupLeaks(items) }
        : { total: items.length, mode: mode ?? 'off', counts: c, entries: items },
      null,
      2,
    );
  }
  const lines: string[] = [];
  const byKind = (k: Leak['kind']) => items.filter((i) => i.kind === k).length;
  lines.push(
    `leash profile: total ${items.length} (tasks ${byKind('task')}, resources ${byKind('resource')}, promises ${byKind(
      'promise',
    )}, listeners ${byKind('listener')}; tracking ${mode ?? 'off'})`,
  );
  if (stackless) {
    lines.push(`${c.promisesPending} @ promise [pending] (count mode: no stacks)`);
    for (const [type, n] of Object.entries(c.resources).sort((a, b) => b[1] - a[1])) {
      lines.push(`${n} @ resource ${type} [active]`);
    }
    lines.push('');
  }
  if (debug === 1) {
    for (const g of groupLeaks(items)) {
      lines.push(`${g.count} @ ${g.kind} ${g.type} [${g.state}]${g.keepsAlive ? ' keeps-alive' : ''}`);
      for (const frame of g.stack) lines.push(`#\t${frame}`);
      lines.push('');
    }
  } else {
    for (const item of items) {
      const name =
        item.kind === 'task' ? `task ${item.id} "${item.type}"` : `${item.kind} ${item.id} ${item.type}`;
      lines.push(
        `${name} [${item.state}, ${formatAge(item.ageMs)}]${item.label ? ` {label: ${item.label}}` : ''}:`,
      );
      for (const frame of item.stack) lines.push(`\t${frame}`);
      if (item.creatorId !== undefined) {
        lines.push(`created by ${item.kind === 'listener' ? 'emitter' : item.kind} ${item.creatorId}`);
      }
      lines.push('');
    }
  }
  return lines.join('\n');
}
