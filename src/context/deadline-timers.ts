// Deadline timers: every leash deadline shares one Node timer.
//
// Live deadlines sit in a binary min-heap ordered by deadline on the monotonic clock (`_when`,
// performance.now()), never the wall clock: a step of the system clock (NTP, a VM resumed, an
// operator) changes no timeout, as in Go. One Node timer is armed for the earliest. A million live withTimeout contexts therefore cost one timer, and cancelling one is an
// O(log n) heap removal: its timer is gone at once, nothing waits for it to fire.
//
// When the heap empties the Node timer is not cleared: it is unref'd and left to fire once and find
// nothing due. Clearing and re-arming it for every withTimeout+cancel pair would double that pair's
// cost (bench/context.bench.ts); an unref'd timer keeps nothing alive and is not listed by
// process.getActiveResourcesInfo().
//
// The shared timer is unref'd, so a deadline that nothing waits on does not keep the process alive
// (like AbortSignal.timeout). A leash operation blocked on a context with a deadline (sleep,
// abortable, `await ctx.done`, a channel operation, select, Group.wait) takes a hold; while any
// hold exists the timer is ref'd, so `await ch.recv(ctx)` on a silent channel rejects at the
// deadline instead of letting the process exit under it. A hold is released when the operation
// settles, which happens at the latest when its deadline fires. This is the one home of holds:
// every layer takes them through ./internal.ts (issue 9); there is no second keep-alive handle.
//
// This file imports no other module at run time, so ./internal.ts can re-export it without an
// import cycle.
import type { CancelCtx } from './cancel-tree.js';

// setTimeout's largest delay; a later deadline is reached in steps.
const TIMEOUT_MAX = 2 ** 31 - 1;

let heap: CancelCtx[] = [];
// The largest size the heap reached since it was last compacted (arrays do not shrink on pop).
let highWater = 0;
let timer: NodeJS.Timeout | null = null;
let armedFor = Number.POSITIVE_INFINITY;
let holds = 0;
let refd = false;

/** @internal Adds `c`, whose `_when` is set and in the future, to the heap. */
export function scheduleDeadline(c: CancelCtx): void {
  const i = heap.length;
  heap.push(c);
  if (i >= highWater) highWater = i + 1;
  c._heapIndex = i;
  siftUp(i);
  if ((c._when as number) < armedFor) arm(c._when as number);
  else if (i === 0 && holds > 0) syncRef();
}

/** @internal Removes `c` from the heap; when the heap empties, the Node timer goes too. */
export function unscheduleDeadline(c: CancelCtx): void {
  const i = c._heapIndex;
  c._heapIndex = -1;
  const last = heap.pop() as CancelCtx;
  if (last !== c) {
    heap[i] = last;
    last._heapIndex = i;
    if (!siftUp(i)) siftDown(i);
  }
  if (heap.length === 0 && refd) syncRef();
  // Give back the backing store of a heap that was large and is now mostly empty: a burst of a
  // million deadlines must not pin megabytes once they are cancelled. Amortised O(1) per removal.
  if (highWater > 1024 && heap.length < highWater >> 2) {
    heap = heap.slice();
    highWater = heap.length;
  }
}

/**
 * @internal
 * hold keeps the process alive while a deadline is pending, until the matching release(). Take
 * one when an operation starts blocking on a context that has a deadline, and release it exactly
 * once when the operation stops waiting, whichever way: a hold never released keeps the process
 * alive until the last pending deadline fires (never past it: an empty heap keeps nothing alive).
 * A hold costs a counter increment; the timer is ref'd only on the first.
 */
export function hold(): void {
  if (holds++ === 0) syncRef();
}

/** @internal release ends one hold(). Calling it more often than hold() is a bug. */
export function release(): void {
  if (--holds === 0) syncRef();
}

/** @internal heldCount is the number of holds taken and not yet released, for tests. */
export function heldCount(): number {
  return holds;
}

// The timer keeps the process alive only while an operation is blocked and a deadline is pending.
function syncRef(): void {
  const want = holds > 0 && heap.length > 0 && timer !== null;
  if (want === refd) return;
  refd = want;
  if (want) (timer as NodeJS.Timeout).ref();
  else (timer as NodeJS.Timeout).unref();
}

/** @internal For tests and diagnostics: live deadlines, Node timers armed, holds. */
export function deadlineTimerStats(): {
  deadlines: number;
  nodeTimers: number;
  holds: number;
  refd: boolean;
} {
  return { deadlines: heap.length, nodeTimers: timer === null ? 0 : 1, holds, refd };
}

function arm(at: number): void {
  if (timer !== null) clearTimeout(timer);
  const delay = Math.min(TIMEOUT_MAX, Math.max(1, Math.ceil(at - performance.now())));
  timer = setTimeout(fire, delay);
  refd = true;
  armedFor = at;
  syncRef();
}

function fire(): void {
  timer = null;
  refd = false;
  armedFor = Number.POSITIVE_INFINITY;
  const now = performance.now();
  // Cancelling may unschedule other entries (descendants with the same deadline): re-read heap[0].
  while (heap.length > 0 && (heap[0] as CancelCtx)._when! <= now) {
    const c = heap[0] as CancelCtx;
    unscheduleDeadline(c);
    c._expire();
  }
  if (heap.length > 0 && timer === null) arm((heap[0] as CancelCtx)._when!);
}

function siftUp(i: number): boolean {
  const c = heap[i] as CancelCtx;
  const d = c._when!;
  const start = i;
  while (i > 0) {
    const p = (i - 1) >> 1;
    const parent = heap[p] as CancelCtx;
    if (parent._when! <= d) break;
    heap[i] = parent;
    parent._heapIndex = i;
    i = p;
  }
  heap[i] = c;
  c._heapIndex = i;
  return i !== start;
}

function siftDown(i: number): void {
  const n = heap.length;
  const c = heap[i] as CancelCtx;
  const d = c._when!;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    let m = l;
    let md = (heap[l] as CancelCtx)._when!;
    if (r < n) {
      const rd = (heap[r] as CancelCtx)._when!;
      if (rd < md) {
        m = r;
        md = rd;
      }
    }
    if (md >= d) break;
    const child = heap[m] as CancelCtx;
    heap[i] = child;
    child._heapIndex = i;
    i = m;
  }
  heap[i] = c;
  c._heapIndex = i;
}
