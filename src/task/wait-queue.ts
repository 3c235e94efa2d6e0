import { afterFunc, background, type Context } from '../context/index.js';
import { keepShape, leashContextClass } from '../context/internal.js';
import { canEnd, hold, release } from './keep-alive.js';
import { nextWaitSeq, type Task, type TaskState, taskBlockedLists, taskIn } from './registry.js';

/**
 * Blocker is the one home of what every blocking operation of this layer sets up while it waits
 * and undoes when it stops waiting (issue 9: this sequence was written four times): a callback on
 * its context's end, a keep-alive hold while the context has a deadline (docs/architecture.md,
 * deadline timers), and what the state of the task its context belongs to reads (its place in the
 * context's list of blocked operations, which `Task.state` searches). A channel waiter and
 * a blocked select are Blockers (a ticker waiting for a tick could be one too); `ended` is what
 * each does when its context ends first.
 */
export class Blocker {
  // Fields are declared, and assigned in the constructor, rather than initialised as class fields:
  // a class field is defined (DefineOwnProperty, through a separate initialiser function) where an
  // assignment is a plain store, and a blocked operation builds one of these per wait (measured:
  // about 230 of the 3,700 machine instructions of a hand-off on a cancellable context;
  // docs/architecture.md, core rules).
  // Links in the CtxWatch of the context it blocks on.
  declare wprev: Blocker | undefined;
  declare wnext: Blocker | undefined;
  declare watch: CtxWatch | undefined;
  declare held: boolean;
  // What the task state reads (registry.ts, BlockedOp): the state this operation puts its task in,
  // and when it started. Set when it blocks; nothing is written into the task itself.
  declare waitState: TaskState;
  declare seq: number;

  constructor() {
    this.wprev = undefined;
    this.wnext = undefined;
    this.watch = undefined;
    this.held = false;
    this.waitState = 'running';
    this.seq = 0;
  }

  /**
   * block arms them: `ended()` runs (a microtask after the cancel, as `afterFunc` callbacks do)
   * when `ctx` ends first; contexts that can never end (background, todo) need no callback and no
   * hold, and belong to no task.
   */
  block(ctx: Context, state: TaskState): void {
    // background() and todo() carry no task, so an operation blocked on them is in no task's state.
    if (!canEnd(ctx)) return;
    let watch = watchOf(ctx);
    if (watch === undefined) {
      watch = new CtxWatch(ctx);
      setWatch(ctx, watch, undefined);
    }
    // Only a task's state reads these; an operation outside any task skips the stores.
    if (watch.task !== undefined) {
      this.waitState = state;
      this.seq = nextWaitSeq();
    }
    watch.add(this);
    if (watch.deadline) {
      this.held = true;
      hold();
    }
  }

  /** unblock undoes block: idempotent, so every way out of a wait can call it. */
  unblock(): void {
    const watch = this.watch;
    if (watch !== undefined) watch.remove(this);
    if (this.held) {
      this.held = false;
      release();
    }
  }

  /** ended is called, unblocked already, when the context ended before the operation completed. */
  ended(): void {}
}

// CtxWatch is the one `afterFunc` registration on a context for every operation blocked on it.
// One registration per blocked operation (three closures, a watcher and a link into the context's
// cancel tree, then an unlink, about 100 ns on Node 20) was the largest cost of a channel hand-off
// on a cancellable context, measured in bench/task.bench.ts. Operations now join and leave an
// intrusive list in O(1); the registration outlives its last operation until the next sweep (a
// setImmediate, unref'd), so a producer and a consumer trading values in a loop register once,
// and nothing stays registered on a context once the event loop turns.
class CtxWatch {
  readonly ctx: Context;
  // The operations blocked on the context, oldest first, as a circular list of which the watch
  // holds only the newest (the oldest is `tail.wnext`); see WaitQueue for why only one end.
  tail: Blocker | undefined = undefined;
  stop: (() => boolean) | undefined;
  idle = false;
  // What block() reads on every operation, read once: a context's deadline and task never change.
  readonly deadline: boolean;
  readonly task: Task | undefined;

  constructor(ctx: Context) {
    this.ctx = ctx;
    this.deadline = ctx.deadline !== undefined;
    this.task = taskIn(ctx);
    this.stop = afterFunc(ctx, () => this.fire());
    // A task's state finds its blocked operations here, for as long as the registration lives.
    if (this.task !== undefined) taskBlockedLists.add(this);
  }

  add(b: Blocker): void {
    b.watch = this;
    const t = this.tail;
    if (t === undefined) {
      b.wprev = b;
      b.wnext = b;
    } else {
      const h = t.wnext as Blocker;
      b.wprev = t;
      b.wnext = h;
      t.wnext = b;
      h.wprev = b;
    }
    this.tail = b;
  }

  remove(b: Blocker): void {
    this.unlink(b);
    if (this.tail === undefined && !this.idle && this.stop !== undefined) {
      this.idle = true;
      idle.push(this);
      // A loop that never lets the event loop turn still keeps few idle registrations.
      if (idle.length >= MAX_IDLE) sweep();
      else if (!sweeping) {
        sweeping = true;
        setImmediate(sweep).unref();
      }
    }
  }

  unlink(b: Blocker): void {
    const n = b.wnext as Blocker;
    if (n === b) this.tail = undefined;
    else {
      const p = b.wprev as Blocker;
      p.wnext = n;
      n.wprev = p;
      if (this.tail === b) this.tail = p;
    }
    b.wprev = b.wnext = b.watch = undefined;
  }

  // The context ended: every operation still blocked on it ends, oldest first.
  fire(): void {
    this.stop = undefined;
    taskBlockedLists.delete(this);
    setWatch(this.ctx, undefined, this);
    for (let t = this.tail; t !== undefined; t = this.tail) {
      const b = t.wnext as Blocker;
      this.unlink(b);
      b.ended();
    }
  }
}

// A context's CtxWatch lives in the `_wait` field of leash's own contexts (one load on the hot
// path) and, for a foreign Context, in this WeakMap.
const LeashContext = leashContextClass.ctor as abstract new (...args: never[]) => { _wait: unknown };
const foreignWatches = new WeakMap<Context, CtxWatch>();

function watchOf(ctx: Context): CtxWatch | undefined {
  return ctx instanceof LeashContext ? (ctx._wait as CtxWatch | undefined) : foreignWatches.get(ctx);
}

/** setWatch makes `watch` the context's CtxWatch (undefined: none), if its current one is `expected`. */
function setWatch(ctx: Context, watch: CtxWatch | undefined, expected: CtxWatch | undefined): void {
  if (ctx instanceof LeashContext) {
    if (ctx._wait === expected) ctx._wait = watch;
  } else if (foreignWatches.get(ctx) === expected) {
    if (watch === undefined) foreignWatches.delete(ctx);
    else foreignWatches.set(ctx, watch);
  }
}
const MAX_IDLE = 256;
let idle: CtxWatch[] = [];
let sweeping = false;

function sweep(): void {
  sweeping = false;
  const list = idle;
  idle = [];
  for (const w of list) {
    w.idle = false;
    if (w.tail !== undefined || w.stop === undefined) continue;
    w.stop();
    w.stop = undefined;
    taskBlockedLists.delete(w);
    setWatch(w.ctx, undefined, w);
  }
}

/** registeredWatches counts contexts with a live registration, for tests. */
export function registeredWatchCount(ctxs: readonly Context[]): number {
  let n = 0;
  for (const c of ctxs) if (watchOf(c)?.stop !== undefined) n++;
  return n;
}

/**
 * Selecting is a blocked `select`, as its case waiters see it. A channel that completes one of its
 * cases calls `winRecv` (a receive case: the value and ok) or `winSend` (a send case, its value
 * taken); `fail` rejects the select with a send case's error, `abort` with its context's. Each
 * removes every other case waiter of the select from its queue before returning, so losing cases
 * leave nothing registered.
 */
export interface Selecting {
  winRecv(w: Waiter, value: unknown, ok: boolean): void;
  winSend(w: Waiter): void;
  fail(w: Waiter, err: unknown): void;
  abort(): void;
}

/**
 * Waiter is one blocked send or receive in a channel's wait queue: a plain `send`/`recv` (settled
 * through `resolve`/`reject`) or one case of a `select` (settled through `sel`). One shape for
 * both keeps the queues monomorphic.
 */
export class Waiter extends Blocker {
  // Declared and assigned in the constructor, as Blocker's fields are (one Waiter per blocked operation).
  declare prev: Waiter | undefined;
  declare next: Waiter | undefined;
  declare queue: WaitQueue | undefined;
  declare readonly ctx: Context;
  /** For a sender, the value it offers. */
  declare value: unknown;
  declare readonly sel: Selecting | undefined;
  /** The select case index, or -1. */
  declare readonly index: number;
  // biome-ignore lint/suspicious/noExplicitAny: resolves a Promise<void> or a Promise<RecvResult<T>>.
  declare resolve: ((v: any) => void) | undefined;
  declare reject: ((e: unknown) => void) | undefined;

  constructor(ctx: Context, value: unknown, sel: Selecting | undefined, index: number) {
    super();
    this.prev = undefined;
    this.next = undefined;
    this.queue = undefined;
    this.ctx = ctx;
    this.value = value;
    this.sel = sel;
    this.index = index;
    this.resolve = undefined;
    this.reject = undefined;
  }

  /** A plain send or receive whose context ended: leave the queue, reject with `ctx.err`. */
  override ended(): void {
    if (this.queue === undefined) return; // already settled
    this.queue.remove(this);
    this.unblock();
    this.reject!(this.ctx.err);
  }
}

keepShape(new Waiter(background(), undefined, undefined, -1));

/**
 * WaitQueue is an intrusive doubly linked FIFO of waiters: O(1) push, taking the oldest and removal
 * of any member, so a cancelled waiter leaves its queue at once and a million of them leave nothing.
 *
 * The list is circular and the queue holds only its newest waiter (the oldest is `tail.next`).
 * A queue lives as long as its channel, so V8 has long moved it to the old generation, while a
 * waiter is new: storing a new object into an old one takes the write barrier's slow path, which
 * records the slot for the next scavenge. Holding one end instead of two halves those stores when a
 * waiter joins an empty queue, the usual case of an unbuffered hand-off (with CtxWatch's list doing
 * the same: 153-160 fewer instructions per hand-off in bench/task-instructions.mjs).
 */
export class WaitQueue {
  tail: Waiter | undefined = undefined;
  size = 0;

  push(w: Waiter): void {
    w.queue = this;
    const t = this.tail;
    if (t === undefined) {
      w.prev = w;
      w.next = w;
    } else {
      const h = t.next as Waiter;
      w.prev = t;
      w.next = h;
      t.next = w;
      h.prev = w;
    }
    this.tail = w;
    this.size++;
  }

  remove(w: Waiter): void {
    const n = w.next as Waiter;
    if (n === w) this.tail = undefined;
    else {
      const p = w.prev as Waiter;
      p.next = n;
      n.prev = p;
      if (this.tail === w) this.tail = p;
    }
    w.prev = w.next = w.queue = undefined;
    this.size--;
  }

  /**
   * takeLive removes and returns the first waiter whose context is not done. Waiters whose
   * context ended (their `afterFunc` has not run yet) are rejected with `ctx.err` on the way:
   * a value is never handed to a waiter that can no longer take it, so none is lost.
   */
  takeLive(): Waiter | undefined {
    for (let t = this.tail; t !== undefined; t = this.tail) {
      const w = t.next as Waiter;
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
