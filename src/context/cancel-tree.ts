// The cancel tree: how cancellation flows from a context to its descendants.
//
// Every cancellable node (a cancel context, a deadline context, an afterFunc or an internal waiter)
// is a Link in an intrusive doubly linked list owned by the nearest cancellable ancestor (an Owner).
// Linking and unlinking are O(1) and allocate nothing, so deriving and cancelling a child of a
// long-lived parent costs tens of nanoseconds and leaves nothing behind: a cancelled child is
// unlinked at once, with no WeakRef or FinalizationRegistry involved (docs/architecture.md).
//
// A foreign parent (any object with the Context shape) cannot hold links. Its children hang off a
// ForeignBridge: one 'abort' listener on the foreign signal per foreign context, however many
// children, removed when the last child goes. That keeps Node's MaxListenersExceededWarning away.
import { LeashContext, SOURCE_KEY, type Source, sourceOf } from './base-context.js';
import type { Context } from './context.js';
import { holdDeadlines, releaseDeadlines, unscheduleDeadline } from './deadline-timers.js';
import { CANCELED, DEADLINE_EXCEEDED } from './errors.js';

/** @internal A node in an owner's list of children. */
export interface Link {
  _prev: Link | null;
  _next: Link | null;
  _owner: Owner | null;
  /** Called once, synchronously, when the owner is done; the link is already detached. */
  _parentDone(err: Error, cause: unknown): void;
}

/** @internal Something that holds children: a cancel context or a foreign bridge. */
export interface Owner {
  _head: Link | null;
  /** Called when unlinking leaves the list empty. */
  _childrenGone(): void;
}

function link(owner: Owner, node: Link): void {
  const head = owner._head;
  node._owner = owner;
  node._prev = null;
  node._next = head;
  if (head !== null) head._prev = node;
  owner._head = node;
}

/** @internal Removes `node` from its owner's list; does nothing when it is not linked. */
export function unlink(node: Link): void {
  const owner = node._owner;
  if (owner === null) return;
  const prev = node._prev;
  const next = node._next;
  if (prev === null) owner._head = next;
  else prev._next = next;
  if (next !== null) next._prev = prev;
  node._owner = null;
  node._prev = null;
  node._next = null;
  if (owner._head === null) owner._childrenGone();
}

/**
 * Pops every child of `owner` and tells it the owner is done. Popping one at a time from the head
 * keeps the list consistent if a child's cancellation (an abort listener, say) unlinks siblings.
 */
function finishChildren(owner: Owner, err: Error, cause: unknown): void {
  let node: Link | null;
  while ((node = owner._head) !== null) {
    const next = node._next;
    owner._head = next;
    if (next !== null) next._prev = null;
    node._next = null;
    node._owner = null;
    node._parentDone(err, cause);
  }
}

/**
 * @internal
 * CancelCtx is the context made by withCancel, withCancelCause, withDeadline, withTimeout and
 * fromSignal. Deadline contexts are the same class with a heap slot, so that lookups along a chain
 * see few hidden classes.
 */
export class CancelCtx extends LeashContext implements Link, Owner {
  _deadline: number | undefined;
  _err: Error | undefined = undefined;
  _cause: unknown = undefined;
  _controller: AbortController | null = null;
  _donePromise: Promise<void> | null = null;
  _resolveDone: (() => void) | null = null;
  // Children.
  _head: Link | null = null;
  // Our place in the parent's list.
  _prev: Link | null = null;
  _next: Link | null = null;
  _owner: Owner | null = null;
  // Deadline timer: index in the shared heap, or -1; cause to use when it fires.
  _heapIndex = -1;
  _timerCause: unknown = undefined;
  // Extra teardown (fromSignal's listener); run once when cancelled.
  _detach: (() => void) | null = null;
  _kind: string;

  constructor(parent: Context, deadline: number | undefined, kind: string) {
    super(parent, null, undefined, null);
    this._source = this;
    this._deadline = deadline;
    this._kind = kind;
    propagate(this, parent);
  }

  get deadline(): number | undefined {
    return this._deadline;
  }

  get err(): Error | undefined {
    return this._err;
  }

  get signal(): AbortSignal {
    let c = this._controller;
    if (c === null) {
      c = this._controller = new AbortController();
      if (this._err !== undefined) c.abort(this._cause);
    }
    return c.signal;
  }

  get done(): Promise<void> {
    let p = this._donePromise;
    if (p === null) {
      if (this._err !== undefined) p = Promise.resolve();
      else {
        p = new Promise<void>((resolve) => (this._resolveDone = resolve));
        // Awaiting done is waiting on the context, like Go's <-ctx.Done(): with a deadline pending,
        // the process stays alive until it passes (or the context is cancelled sooner).
        if (this._deadline !== undefined) holdDeadlines();
      }
      this._donePromise = p;
    }
    return p;
  }

  /**
   * Cancels this context and its descendants with `err` and `cause`. The first call wins; the
   * rest do nothing.
   *
   * It works in two passes. The first marks the whole subtree done (err, cause, timers, links),
   * iteratively, so that a chain of contexts thousands deep cannot overflow the stack and leave a
   * half-cancelled tree. The second aborts signals, resolves done promises and tells waiters,
   * parents before children (Go closes a parent's Done channel before its children's; the DOM
   * aborts a signal before its dependents). So by the time any abort listener runs, every
   * descendant's `err` is already set. Abort listeners run synchronously, as for
   * AbortController.abort; done promises resolve in a later microtask.
   */
  _cancel(err: Error, cause: unknown): void {
    if (this._err !== undefined) return;
    this._markDone(err, cause);
    if (this._owner !== null) unlink(this);
    if (this._head === null) {
      this._notify();
      return;
    }
    // The subtree becomes a queue threaded through the links' own `_next` fields (they are
    // detached from their lists as they are visited), in breadth-first order. Threading it
    // through the nodes, rather than pushing them onto an array, keeps cancelling 100k children
    // allocation-free (bench/context.bench.ts: an array made it about 3x slower).
    let tail: Link = this;
    for (let n: Link | null = this; n !== null; n = n._next) {
      if (!(n instanceof CancelCtx)) continue;
      let child: Link | null;
      while ((child = n._head) !== null) {
        const next: Link | null = child._next;
        n._head = next;
        if (next !== null) next._prev = null;
        child._next = null;
        child._owner = null;
        if (child instanceof CancelCtx) {
          if (child._err !== undefined) continue;
          child._markDone(err, cause);
        }
        tail._next = child;
        tail = child;
      }
    }
    let n: Link | null = this;
    while (n !== null) {
      const next: Link | null = n._next;
      n._next = null;
      if (n instanceof CancelCtx) n._notify();
      else n._parentDone(err, cause);
      n = next;
    }
  }

  /** Records the outcome and releases the deadline and foreign listeners; no user code runs. */
  _markDone(err: Error, cause: unknown): void {
    this._err = err;
    this._cause = cause;
    if (this._heapIndex >= 0) unscheduleDeadline(this);
    const detach = this._detach;
    if (detach !== null) {
      this._detach = null;
      detach();
    }
  }

  /** Tells the outside world: aborts the signal and resolves done, if they were ever read. */
  _notify(): void {
    if (this._controller !== null) this._controller.abort(this._cause);
    const resolve = this._resolveDone;
    if (resolve !== null) {
      this._resolveDone = null;
      if (this._deadline !== undefined) releaseDeadlines();
      resolve();
    }
  }

  _parentDone(err: Error, cause: unknown): void {
    this._cancel(err, cause);
  }

  _childrenGone(): void {}

  _describe(): string {
    if (this._kind === 'WithDeadline' && this._deadline !== undefined) {
      return `WithDeadline(${new Date(this._deadline).toISOString()} [${Math.max(0, this._deadline - Date.now())}ms])`;
    }
    return this._kind;
  }
}

/** @internal A callback registered to run when a context is done (afterFunc, leash's own waits). */
export class Watcher implements Link {
  _prev: Link | null = null;
  _next: Link | null = null;
  _owner: Owner | null = null;
  _fn: (err: Error, cause: unknown) => void;

  constructor(fn: (err: Error, cause: unknown) => void) {
    this._fn = fn;
  }

  _parentDone(err: Error, cause: unknown): void {
    const fn = this._fn;
    fn(err, cause);
  }

  /** Unregisters; true when it was still registered. */
  stop(): boolean {
    if (this._owner === null) return false;
    unlink(this);
    return true;
  }
}

/**
 * @internal
 * watch calls `fn` synchronously when `ctx` is done (at once if it already is) and returns the
 * registration, whose stop() removes it. It returns null when `ctx` can never be done.
 */
export function watch(ctx: Context, fn: (err: Error, cause: unknown) => void): Watcher | null {
  if (sourceOf(ctx) === null) return null;
  const w = new Watcher(fn);
  propagate(w, ctx);
  return w;
}

/**
 * @internal
 * propagate arranges for `child` to be told when `parent` is done: at once if it already is, else
 * by linking it to the nearest cancel context, or to the bridge of a foreign one.
 */
export function propagate(child: Link, parent: Context): void {
  const src = sourceOf(parent);
  if (src === null) return; // never done
  if (src instanceof CancelCtx) {
    if (src._err !== undefined) child._parentDone(src._err, src._cause);
    else link(src, child);
    return;
  }
  // A foreign context.
  const err = src.err;
  if (err !== undefined) {
    child._parentDone(err, foreignCause(src, err));
    return;
  }
  link(bridgeFor(src, src.signal, true), child);
}

/** @internal Links `child` so that it is told when a foreign AbortSignal aborts. */
export function propagateSignal(child: Link, signal: AbortSignal): void {
  if (signal.aborted) child._parentDone(errForReason(signal.reason), signal.reason);
  else link(bridgeFor(signal, signal, false), child);
}

/** @internal The error a context takes when a foreign signal aborts with `reason`. */
export function errForReason(reason: unknown): Error {
  return (reason as { name?: unknown } | null)?.name === 'TimeoutError' ? DEADLINE_EXCEEDED : CANCELED;
}

// One bridge per foreign context or signal, while it has children.
const bridges = new WeakMap<object, ForeignBridge>();

function bridgeFor(key: object, signal: AbortSignal, isContext: boolean): ForeignBridge {
  let b = bridges.get(key);
  if (b === undefined) {
    b = new ForeignBridge(key, signal, isContext);
    bridges.set(key, b);
  }
  return b;
}

class ForeignBridge implements Owner {
  _head: Link | null = null;
  readonly #key: object;
  readonly #signal: AbortSignal;
  readonly #isContext: boolean;
  readonly #onAbort = (): void => this.#fire();

  constructor(key: object, signal: AbortSignal, isContext: boolean) {
    this.#key = key;
    this.#signal = signal;
    this.#isContext = isContext;
    signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  #fire(): void {
    bridges.delete(this.#key);
    let err: Error;
    let cause: unknown;
    if (this.#isContext) {
      const ctx = this.#key as Context;
      err = ctx.err ?? errForReason(this.#signal.reason);
      cause = foreignCause(ctx, err);
    } else {
      cause = this.#signal.reason;
      err = errForReason(cause);
    }
    finishChildren(this, err, cause);
  }

  _childrenGone(): void {
    this.#signal.removeEventListener('abort', this.#onAbort);
    bridges.delete(this.#key);
  }
}

/**
 * The cause of a done foreign context. Like Go's Cause, it sees through a wrapper that delegates
 * value() to a leash context; otherwise the foreign context's err is all there is.
 */
function foreignCause(ctx: Context, err: Error): unknown {
  let inner: unknown;
  try {
    inner = ctx.value(SOURCE_KEY);
  } catch {
    inner = undefined;
  }
  if (inner instanceof CancelCtx && inner._err !== undefined) return inner._cause;
  return err;
}

/** @internal cause() for any context; see cause.ts. */
export function causeOf(ctx: Context): unknown {
  const src: Source = sourceOf(ctx);
  if (src === null) return undefined;
  if (src instanceof CancelCtx) return src._cause;
  const err = src.err;
  return err === undefined ? undefined : foreignCause(src, err);
}

/** @internal The deadline of any context, read once. */
export function deadlineOf(ctx: Context): number | undefined {
  return ctx.deadline;
}

/** @internal Makes the Disposable cancel function of `c`. */
export function cancelFuncOf(c: CancelCtx): (() => void) & Disposable {
  const cancel = (() => c._cancel(CANCELED, CANCELED)) as (() => void) & Disposable;
  cancel[Symbol.dispose] = cancel;
  return cancel;
}
