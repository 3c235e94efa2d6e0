import { afterFunc, type Context } from '../context/index.js';
import { canEnd, hold, release } from './keep-alive.js';
import { enterWait, leaveWait, type Task, type TaskState, taskIn } from './registry.js';

/**
 * Blocker is the one home of what every blocking operation of this layer sets up while it waits
 * and undoes when it stops waiting (issue 9: this sequence was written four times): a callback on
 * its context's end, a keep-alive hold while the context has a deadline (docs/architecture.md, deadline
 * timers), and the blocked state of the task its context belongs to. A channel waiter and a
 * blocked select are Blockers; a ticker waiting for a tick could be one too.
 */
export class Blocker {
  stop: (() => boolean) | undefined = undefined;
  task: Task | undefined = undefined;
  held = false;

  /**
   * block arms the three: `onEnd` runs (a microtask after the cancel, from `afterFunc`) when `ctx`
   * ends first; contexts that can never end (background, todo) need no callback and no hold.
   */
  block(ctx: Context, state: TaskState, onEnd: () => void): void {
    if (canEnd(ctx)) {
      this.stop = afterFunc(ctx, onEnd);
      if (ctx.deadline !== undefined) {
        this.held = true;
        hold();
      }
    }
    const task = taskIn(ctx);
    if (task !== undefined) {
      this.task = task;
      enterWait(task, this, state);
    }
  }

  /** unblock undoes block: idempotent, so every way out of a wait can call it. */
  unblock(): void {
    if (this.stop !== undefined) {
      this.stop();
      this.stop = undefined;
    }
    if (this.held) {
      this.held = false;
      release();
    }
    const task = this.task;
    if (task !== undefined) {
      this.task = undefined;
      leaveWait(task, this);
    }
  }
}

/**
 * Selecting is a blocked `select`, as its case waiters see it. A channel that completes one of its
 * cases calls `win`; `abort` rejects the whole select with its context's error. Either one removes
 * every other case waiter of the select from its queue before returning, so losing cases leave
 * nothing registered.
 */
export interface Selecting {
  win(w: Waiter, value: unknown, ok: boolean): void;
  fail(w: Waiter, err: unknown): void;
  abort(): void;
}

/**
 * Waiter is one blocked send or receive in a channel's wait queue: a plain `send`/`recv` (settled
 * through `resolve`/`reject`) or one case of a `select` (settled through `sel`). One shape for
 * both keeps the queues monomorphic.
 */
export class Waiter extends Blocker {
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  queue: WaitQueue | undefined = undefined;
  readonly ctx: Context;
  /** For a sender, the value it offers. */
  value: unknown;
  readonly sel: Selecting | undefined;
  /** The select case index, or -1. */
  readonly index: number;
  // biome-ignore lint/suspicious/noExplicitAny: resolves a Promise<void> or a Promise<RecvResult<T>>.
  resolve: ((v: any) => void) | undefined = undefined;
  reject: ((e: unknown) => void) | undefined = undefined;

  constructor(ctx: Context, value: unknown, sel: Selecting | undefined, index: number) {
    super();
    this.ctx = ctx;
    this.value = value;
    this.sel = sel;
    this.index = index;
  }
}

/**
 * WaitQueue is an intrusive doubly linked FIFO of waiters: O(1) push, shift and removal of any
 * member, so a cancelled waiter leaves its queue at once and a million of them leave nothing.
 */
export class WaitQueue {
  head: Waiter | undefined = undefined;
  tail: Waiter | undefined = undefined;
  size = 0;

  push(w: Waiter): void {
    w.queue = this;
    w.prev = this.tail;
    if (this.tail === undefined) this.head = w;
    else this.tail.next = w;
    this.tail = w;
    this.size++;
  }

  shift(): Waiter | undefined {
    const w = this.head;
    if (w !== undefined) this.remove(w);
    return w;
  }

  remove(w: Waiter): void {
    if (w.prev === undefined) this.head = w.next;
    else w.prev.next = w.next;
    if (w.next === undefined) this.tail = w.prev;
    else w.next.prev = w.prev;
    w.prev = w.next = w.queue = undefined;
    this.size--;
  }

  /**
   * takeLive removes and returns the first waiter whose context is not done. Waiters whose
   * context ended (their `afterFunc` has not run yet) are rejected with `ctx.err` on the way:
   * a value is never handed to a waiter that can no longer take it, so none is lost.
   */
  takeLive(): Waiter | undefined {
    for (let w = this.head; w !== undefined; w = this.head) {
      this.remove(w);
      if (w.ctx.err === undefined) return w;
      abort(w);
    }
    return undefined;
  }
}

/** abort rejects a waiter whose context ended (already out of its queue) with `ctx.err`. */
export function abort(w: Waiter): void {
  if (w.sel !== undefined) {
    w.sel.abort();
    return;
  }
  w.unblock();
  w.reject!(w.ctx.err);
}

/** onCancel is a plain waiter's `afterFunc` callback: leave the queue, reject with `ctx.err`. */
export function onCancel(w: Waiter): void {
  if (w.queue === undefined) return; // already settled
  w.queue.remove(w);
  w.stop = undefined;
  w.unblock();
  w.reject!(w.ctx.err);
}
