import type { Leak } from './leak.js';
import type { TrackedRecord } from './record.js';
import { type Frame, isLeashFrame, isNodeInternal } from './stack-frames.js';

// One leak is one report entry. A single `await new Promise(() => {})` inside an async function
// leaves three pending promises (the function's own, the one awaited, and the await's throwaway), and
// a leash task blocked on a channel leaves the task plus its runner's and its body's promises: all
// of them are one mistake at one line. foldLeaks keeps the item that names it and drops the rest:
//
// 1. a promise created as a `then`/await continuation of another reported promise (the promise hooks'
//    parent link) at the same line is that promise's leak;
// 2. an async function's own promise (created at the function's entry, so at its first line) is
//    the leak of the first promise reported later in the same invocation (same function, same
//    callers, a later line): the function is stuck there;
// 3. a promise created at a reported task's `go()` call, or in the task's function called from
//    there, is the task's leak, and the task is reported at the line where it is blocked.

/** FoldItem is one reported item with what folding needs: its record (not for tasks) and visible frames. */
export interface FoldItem {
  readonly leak: Leak;
  readonly rec: TrackedRecord | undefined;
  /** The creation frames outside Node and leash, top first. */
  readonly frames: readonly Frame[];
}

/** visibleFrames keeps the frames outside Node and leash, as reports show them. */
export function visibleFrames(frames: readonly Frame[]): Frame[] {
  return frames.filter((f) => !isNodeInternal(f) && !isLeashFrame(f));
}

function samePosition(a: Frame | undefined, b: Frame | undefined): boolean {
  return (
    a !== undefined &&
    b !== undefined &&
    a.file === b.file &&
    a.line === b.line &&
    a.column === b.column &&
    a.fn === b.fn
  );
}

function sameFrames(a: readonly Frame[], b: readonly Frame[], from: number): boolean {
  if (a.length !== b.length) return false;
  for (let i = from; i < a.length; i++) if (!samePosition(a[i], b[i])) return false;
  return true;
}

// Same line at the top (any column) and the same callers.
function sameSite(a: readonly Frame[], b: readonly Frame[]): boolean {
  return (
    a.length > 0 &&
    a[0]!.file === b[0]?.file &&
    a[0]!.line === b[0]?.line &&
    a[0]!.fn === b[0]?.fn &&
    sameFrames(a, b, 1)
  );
}

/** foldLeaks drops the items that are part of another item's leak (see above); order is kept. */
export function foldLeaks(items: readonly FoldItem[]): Leak[] {
  const folded = new Set<FoldItem>();
  const promises = items.filter((i) => i.rec?.kind === 'promise');
  const byId = new Map(promises.map((i) => [i.rec!.id, i]));
  // 1. Continuations made at the same line as the promise they wait on (an await's throwaway). A
  //    continuation made elsewhere is its own leak: `Promise.race([work, shutdown])` in a loop
  //    piles reactions on one long-lived promise, and the loop's line is the one to report.
  for (const item of promises) {
    const creator = item.rec!.creatorId;
    const parent = creator === undefined ? undefined : byId.get(creator);
    if (parent !== undefined && sameSite(item.frames, parent.frames)) folded.add(item);
  }
  // 2. An async function's own promise into the first later promise of the same invocation.
  const roots = promises.filter((i) => !folded.has(i) && i.frames.length > 0);
  const byCallers = new Map<string, FoldItem[]>();
  for (const item of roots) {
    const [top, ...below] = item.frames;
    const key = `${top!.fn}\n${top!.file}\n${below.map((f) => `${f.file}:${f.line}:${f.column}`).join('\n')}`;
    const list = byCallers.get(key);
    if (list === undefined) byCallers.set(key, [item]);
    else list.push(item);
  }
  for (const list of byCallers.values()) {
    list.sort((a, b) => a.rec!.id - b.rec!.id);
    for (let i = 0; i < list.length; i++) {
      const entry = list[i]!;
      const line = entry.frames[0]!.line;
      const inside = list.slice(i + 1).find((later) => later.frames[0]!.line > line);
      if (inside !== undefined) folded.add(entry);
    }
  }
  // 3. Into a task: created at its go() call, or by its function called from there.
  const blockedAt = new Map<FoldItem, FoldItem>();
  for (const task of items.filter((i) => i.leak.kind === 'task' && i.frames.length > 0)) {
    const site = task.frames;
    for (const item of promises) {
      if (folded.has(item)) continue;
      const extra = item.frames.length - site.length;
      if (extra < 0 || !sameFrames(item.frames.slice(extra), site, 0)) continue;
      const caller = item.frames[extra - 1];
      if (
        extra === 0 ||
        caller?.fn === task.leak.type ||
        caller?.fn === '' ||
        caller?.file === site[0]!.file
      ) {
        folded.add(item);
        // The newest promise made inside the task's function is where it is blocked now: the
        // report names that line, as a Go goroutine dump does, with the go() call below it.
        if (extra > 0 && (blockedAt.get(task)?.rec?.id ?? -1) < item.rec!.id) blockedAt.set(task, item);
      }
    }
  }
  return items
    .filter((i) => !folded.has(i))
    .map((i) => {
      const blocked = blockedAt.get(i);
      return blocked === undefined
        ? i.leak
        : { ...i.leak, site: blocked.leak.site, stack: blocked.leak.stack };
    });
}
