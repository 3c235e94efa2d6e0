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
import { hold, release, unscheduleDeadline } from './deadline-timers.js';
import { CANCELED_KIND, contextError, DEADLINE_KIND } from './errors.js';
import { tree } from './internal.js';

/**
 * @internal
 * Outcome is why a subtree is done, shared by every context cancelled together: the context whose
 * cancel started it (its err is made on first read, see errors.ts), or a foreign context or
 * signal. A child cancelled through its parent has its parent's Outcome, hence the same err and
 * cause (Go's rule); nothing is shared beyond that subtree.
 */
export interface Outcome {
  _errNow(): Error;
  _causeNow(): unknown;
}

/** @internal The Outcome of a foreign context or signal: a given err, or one made from the reason. */
class ForeignOutcome implements Outcome {
  _err: Error | undefined;
  readonly _cause: unknown;
  constructor(err: Error | undefined, cause: unknown) {
    this._err = err;
    this._cause = cause;
  }
  _errNow(): Error {
    let e = this._err;
    if (e === undefined) e = this._err = contextError(kindForReason(this._cause));
    return e;
  }
  _causeNow(): unknown {
    return this._cause === undefined ? this._errNow() : this._cause;
  }
}

/** @internal A node in an owner's list of children. */
export interface Link {
  _prev: Link | null;
  _next: Link | null;
  _owner: Owner | null;
  /** Called once, synchronously, when the owner is done; the link is already detached. */
  _parentDone(o: Outcome): void;
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
function finishChildren(owner: Owner, o: Outcome): void {
  let node: Link | null;
  while ((node = owner._head) !== null) {
    const next = node._next;
    owner._head = next;
    if (next !== null) next._prev = null;
    node._next = null;
    node._owner = null;
    node._parentDone(o);
  }
}

/**
 * @internal
 * CancelCtx is the context made by withCancel, withCancelCause, withDeadline, withTimeout and
 * fromSignal. Deadline contexts are the same class with a heap slot, so that lookups along a chain
 * see few hidden classes.
 *
 * Deadlines are kept twice: `_deadline` in epoch ms (what `ctx.deadline` reports, for display and
 * propagation) and `_when` on the monotonic clock (`performance.now()`), which is what timers,
 * comparisons and `remaining()` use, so a step of the wall clock changes no timeout (Go's
 * deadlines carry a monotonic reading for the same reason).
 */
export class CancelCtx extends LeashContext implements Link, Owner, Outcome {
  _deadline: number | undefined;
  _when: number | undefined;
  // Done-ness: null while live, else why (this context, an ancestor cancelled with it, or a
  // foreign outcome). `_err` caches the error once read; `_errKind` and `_cause` describe this
  // context's own cancellation when it is the Outcome (`_cause` undefined: the cause is the err).
  // While live, `_cause` holds the cause to use if the deadline timer fires (withDeadlineCause,
  // withTimeoutCause): it is read only once this context is its own Outcome, and _cancelSelf
  // overwrites it first, so one field serves both.
  _outcome: Outcome | null = null;
  _err: Error | undefined = undefined;
  _errKind = CANCELED_KIND;
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
  // Deadline timer: index in the shared heap, or -1.
  _heapIndex = -1;
  // Extra teardown (fromSignal's listener); run once when cancelled.
  _detach: (() => void) | null = null;
  _kind: string;

  /**
   * A child of `parent`, with the parent's deadline unless `when` (monotonic) and `deadline`
   * (epoch) give a sooner one.
   */
  constructor(parent: Context, kind: string, deadline?: number, when?: number) {
    super(parent, null, undefined, null);
    this._source = this;
    if (when === undefined) {
      if (parent instanceof CancelCtx) {
        this._deadline = parent._deadline;
        this._when = parent._when;
      } else {
        this._deadline = parent.deadline;
        this._when = whenOf(parent, this._deadline);
      }
    } else {
      this._deadline = deadline;
      this._when = when;
    }
    this._kind = kind;
    propagate(this, parent);
  }

  get deadline(): number | undefined {
    return this._deadline;
  }

  get err(): Error | undefined {
    const e = this._err;
    if (e !== undefined) return e;
    const o = this._outcome;
    return o === null ? undefined : (this._err = o._errNow());
  }

  get signal(): AbortSignal {
    let c = this._controller;
    if (c === null) {
      c = this._controller = new AbortController();
      const o = this._outcome;
      if (o !== null) c.abort(o._causeNow());
    }
    return c.signal;
  }

  get done(): Promise<void> {
    let p = this._donePromise;
    if (p === null) {
      if (this._outcome !== null) p = Promise.resolve();
      else {
        p = new Promise<void>((resolve) => (this._resolveDone = resolve));
        // Awaiting done is waiting on the context, like Go's <-ctx.Done(): with a deadline pending,
        // the process stays alive until it passes (or the context is cancelled sooner).
        if (this._deadline !== undefined) hold();
      }
      this._donePromise = p;
    }
    return p;
  }

  // As an Outcome: the error and cause of a cancellation that started here.
  _errNow(): Error {
    let e = this._err;
    if (e === undefined) e = this._err = contextError(this._errKind);
    return e;
  }

  _causeNow(): unknown {
    return this._cause === undefined ? this._errNow() : this._cause;
  }

  /**
   * Cancels this context on its own account (its cancel function or its deadline): `kind` says
   * which error `err` will be, `cause` is the custom cause (undefined: the err). The first
   * cancellation wins.
   */
  _cancelSelf(kind: number, cause: unknown): void {
    if (this._outcome !== null) return;
    this._errKind = kind;
    this._cause = cause;
    this._cancel(this);
  }

  /** Called by the deadline timer when `_when` has passed. */
  _expire(): void {
    this._cancelSelf(DEADLINE_KIND, this._cause);
  }

  /**
   * Cancels this context and its descendants with Outcome `o`. The first call wins; the rest do
   * nothing.
   *
   * It works in two passes. The first marks the whole subtree done (outcome, timers, links),
   * iteratively, so that a chain of contexts thousands deep cannot overflow the stack and leave a
   * half-cancelled tree. The second aborts signals, resolves done promises and tells waiters,
   * parents before children (Go closes a parent's Done channel before its children's; the DOM
   * aborts a signal before its dependents). So by the time any abort listener runs, every
   * descendant's `err` is already set. Abort listeners run synchronously, as for
   * AbortController.abort; done promises resolve in a later microtask.
   */
  _cancel(o: Outcome): void {
    if (this._outcome !== null) return;
    this._markDone(o);
    if (this._owner !== null) unlink(this);
    if (this._head === null) {
      this._notify();
      return;
    }
    // Pass 1 visits the subtree breadth-first through two queues threaded through the links' own
    // fields (they are detached from their lists as they are visited), so cancelling 100k
    // children allocates nothing (bench/context.bench.ts: an array made it about 3x slower):
    // `_next` threads the contexts that have children of their own, still to visit; `_prev`
    // threads the links that pass 2 must tell (watchers, and contexts whose signal or done was
    // read). A leaf nobody watches, the common case, is touched once, in pass 1. Pass 2 runs no
    // code for the others: reading `signal` or `done` of a context already marked done gives an
    // aborted signal or a settled promise at once, so nothing left out needs telling later.
    let scanTail: CancelCtx = this;
    let tellTail: Link = this;
    let n: CancelCtx | null = this;
    while (n !== null) {
      let child: Link | null;
      while ((child = n._head) !== null) {
        const next: Link | null = child._next;
        n._head = next;
        if (next !== null) next._prev = null;
        child._next = null;
        child._owner = null;
        if (child instanceof CancelCtx) {
          if (child._outcome !== null) continue;
          child._markDone(o);
          if (child._head !== null) {
            scanTail._next = child;
            scanTail = child;
          }
          if (child._controller === null && child._resolveDone === null) continue;
        }
        tellTail._prev = child;
        tellTail = child;
      }
      const after: Link | null = n._next;
      n._next = null;
      n = after as CancelCtx | null;
    }
    let t: Link | null = this;
    while (t !== null) {
      const next: Link | null = t._prev;
      t._prev = null;
      if (t instanceof CancelCtx) t._notify();
      else t._parentDone(o);
      t = next;
    }
  }

  /** Records the outcome and releases the deadline and foreign listeners; no user code runs. */
  _markDone(o: Outcome): void {
    this._outcome = o;
    if (this._heapIndex >= 0) unscheduleDeadline(this);
    const detach = this._detach;
    if (detach !== null) {
      this._detach = null;
      detach();
    }
  }

  /** Tells the outside world: aborts the signal and resolves done, if they were ever read. */
  _notify(): void {
    if (this._controller !== null) this._controller.abort((this._outcome as Outcome)._causeNow());
    const resolve = this._resolveDone;
    if (resolve !== null) {
      this._resolveDone = null;
      if (this._deadline !== undefined) release();
      resolve();
    }
  }

  _parentDone(o: Outcome): void {
    this._cancel(o);
  }

  _childrenGone(): void {}

  _describe(): string {
    if (this._kind === 'WithDeadline' && this._deadline !== undefined) {
      const left = Math.max(0, Math.round((this._when as number) - performance.now()));
      return `WithDeadline(${new Date(this.deadline as number).toISOString()} [${left}ms])`;
    }
    return this._kind;
  }
}

/**
 * @internal
 * whenOf is the deadline of any context on the monotonic clock (performance.now()), or undefined.
 * A foreign context's epoch deadline is converted at the time of the call.
 */
export function whenOf(ctx: Context, deadline?: number): number | undefined {
  const src = sourceOf(ctx);
  if (src instanceof CancelCtx) return src._when;
  if (src === null) return undefined; // never done, so no deadline
  const d = deadline === undefined ? ctx.deadline : deadline;
  if (d === undefined) return undefined;
  return performance.now() + (d - Date.now());
}

/** @internal A callback registered to run when a context is done (afterFunc, leash's own waits). */
export class Watcher implements Link {
  _prev: Link | null = null;
  _next: Link | null = null;
  _owner: Owner | null = null;
  _fn: (o: Outcome) => void;

  constructor(fn: (o: Outcome) => void) {
    this._fn = fn;
  }

  _parentDone(o: Outcome): void {
    const fn = this._fn;
    fn(o);
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
 * watch calls `fn` synchronously when `ctx` is done (at once if it already is) with why
 * (`o._errNow()` is `ctx.err`), and returns the registration, whose stop() removes it. It returns
 * null when `ctx` can never be done.
 */
export function watch(ctx: Context, fn: (o: Outcome) => void): Watcher | null {
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
    const o = src._outcome;
    if (o !== null) child._parentDone(o);
    else link(src, child);
    return;
  }
  // A foreign context.
  const err = src.err;
  if (err !== undefined) {
    child._parentDone(new ForeignOutcome(err, foreignCause(src, err)));
    return;
  }
  link(bridgeFor(src, src.signal, true), child);
}

/** @internal Links `child` so that it is told when a foreign AbortSignal aborts. */
export function propagateSignal(child: Link, signal: AbortSignal): void {
  if (signal.aborted) child._parentDone(new ForeignOutcome(undefined, signal.reason));
  else link(bridgeFor(signal, signal, false), child);
}

/** The kind of error a context takes when a foreign signal aborts with `reason`. */
function kindForReason(reason: unknown): number {
  let name: unknown;
  try {
    name = (reason as { name?: unknown } | null)?.name;
  } catch {
    name = undefined;
  }
  return name === 'TimeoutError' ? DEADLINE_KIND : CANCELED_KIND;
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
    let o: Outcome;
    const err = this.#isContext ? (this.#key as Context).err : undefined;
    if (err !== undefined) o = new ForeignOutcome(err, foreignCause(this.#key as Context, err));
    else o = new ForeignOutcome(undefined, this.#signal.reason);
    finishChildren(this, o);
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
  if (inner instanceof CancelCtx && inner._outcome !== null) return inner._outcome._causeNow();
  return err;
}

/** @internal cause() for any context; see cause.ts. */
export function causeOf(ctx: Context): unknown {
  const src: Source = sourceOf(ctx);
  if (src === null) return undefined;
  if (src instanceof CancelCtx) {
    // Without a cause of its own, the outcome's cause is its err, which is also ctx.err.
    const o = src._outcome;
    return o === null ? undefined : o._causeNow();
  }
  const err = src.err;
  return err === undefined ? undefined : foreignCause(src, err);
}

/** @internal Makes the Disposable cancel function of `c`. */
export function cancelFuncOf(c: CancelCtx): (() => void) & Disposable {
  const cancel = (() => c._cancelSelf(CANCELED_KIND, undefined)) as (() => void) & Disposable;
  cancel[Symbol.dispose] = cancel;
  return cancel;
}

tree.propagate = propagate;
tree.unlink = unlink;
tree.cancelCause = (c, cause) => c._cancelSelf(CANCELED_KIND, cause);
tree.child = (parent) => new CancelCtx(parent, 'WithCancelCause');
