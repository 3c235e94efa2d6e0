// Deadline timers: every leash deadline shares one Node timer.
//
// Live deadlines sit in a binary min-heap ordered by deadline; one Node timer is armed for the
// earliest. A million live withTimeout contexts therefore cost one timer, and cancelling one is an
// O(log n) heap removal: its timer is gone at once, nothing waits for it to fire.
//
// When the heap empties the Node timer is not cleared: it is unref'd and left to fire once and find
// nothing due. Clearing and re-arming it for every withTimeout+cancel pair would double that pair's
// cost (bench/context.bench.ts); an unref'd timer keeps nothing alive and is not listed by
// process.getActiveResourcesInfo().
//
// The shared timer is unref'd, so a deadline that nothing waits on does not keep the process alive
// (like AbortSignal.timeout). A leash operation blocked on a context with a deadline (sleep,
// abortable, a channel operation, select, Group.wait) takes a hold; while any hold exists the
// timer is ref'd, so `await ch.recv(ctx)` on a silent channel rejects at the deadline instead of
// letting the process exit under it. A hold is released when the operation settles, which happens
// at the latest when its deadline fires.
import type { CancelCtx } from './cancel-tree.js';
import { DEADLINE_EXCEEDED } from './errors.js';

// setTimeout's largest delay; a later deadline is reached in steps.
const TIMEOUT_MAX = 2 ** 31 - 1;

let heap: CancelCtx[] = [];
// The largest size the heap reached since it was last compacted (arrays do not shrink on pop).
let highWater = 0;
let timer: NodeJS.Timeout | null = null;
let armedFor = Number.POSITIVE_INFINITY;
let holds = 0;
let refd = false;

/** @internal Adds `c`, whose `_deadline` is set and in the future, to the heap. */
export function scheduleDeadline(c: CancelCtx): void {
  const i = heap.length;
  heap.push(c);
  if (i >= highWater) highWater = i + 1;
  c._heapIndex = i;
  siftUp(i);
  if ((c._deadline as number) < armedFor) arm(c._deadline as number);
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

/** @internal Keeps the process alive until released (see the file comment). */
export function holdDeadlines(): void {
  if (holds++ === 0) syncRef();
}

/** @internal Releases one holdDeadlines(). */
export function releaseDeadlines(): void {
  if (--holds === 0) syncRef();
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
  const delay = Math.min(TIMEOUT_MAX, Math.max(1, at - Date.now()));
  timer = setTimeout(fire, delay);
  refd = true;
  armedFor = at;
  syncRef();
}

function fire(): void {
  timer = null;
  refd = false;
  armedFor = Number.POSITIVE_INFINITY;
  const now = Date.now();
  // Cancelling may unschedule other entries (descendants with the same deadline): re-read heap[0].
  while (heap.length > 0 && (heap[0] as CancelCtx)._deadline! <= now) {
    const c = heap[0] as CancelCtx;
    unscheduleDeadline(c);
    c._cancel(DEADLINE_EXCEEDED, c._timerCause === undefined ? DEADLINE_EXCEEDED : c._timerCause);
  }
  if (heap.length > 0 && timer === null) arm((heap[0] as CancelCtx)._deadline!);
}

function siftUp(i: number): boolean {
  const c = heap[i] as CancelCtx;
  const d = c._deadline!;
  const start = i;
  while (i > 0) {
    const p = (i - 1) >> 1;
    const parent = heap[p] as CancelCtx;
    if (parent._deadline! <= d) break;
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
  const d = c._deadline!;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    let m = l;
    let md = (heap[l] as CancelCtx)._deadline!;
    if (r < n) {
      const rd = (heap[r] as CancelCtx)._deadline!;
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
