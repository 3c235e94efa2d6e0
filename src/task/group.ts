import { afterFunc, type CancelCauseFunc, type Context, withCancelCause } from '../context/index.js';
import {
  assertContext,
  assertFunction,
  assertNumber,
  assertOptions,
  describe,
  invalidArg,
  readOption,
} from '../context/internal.js';
import { GroupDoneError } from './errors.js';
import { captureSite, spawn, type TaskOwner, withTaskState } from './registry.js';

type Fn = (ctx: Context) => Promise<unknown>;
// A queued `go` call: calling it starts the task. It resolves a promise whose reaction was
// registered by `go` itself, so the task starts in the async context of the `go` call: its parent
// is the caller's task and it sees the caller's AsyncLocalStorage values, not those of the sibling
// whose completion freed the slot. (A promise reaction costs far less than
// AsyncLocalStorage.snapshot(), which makes an AsyncResource per call on Node 20.)
type Queued = () => void;

/**
 * Group is Go's `errgroup.Group` (with `WithContext`): a set of tasks working on one job, with one
 * outcome.
 *
 * - `g.ctx` is derived from `parent`; the first task to fail cancels it with its error as the cause
 *   (`cause(g.ctx)`), so its siblings stop early.
 * - `wait()` settles only after every task has settled: it rejects with the first error, or
 *   resolves. It then cancels `g.ctx` (unlinking it from `parent`), and from then on `go` throws
 *   `GroupDoneError`.
 * - `limit` bounds how many tasks run at once. Extra `go` calls queue their function (in order),
 *   with the caller's async context: a queued task starts as if `go` had started it, with the
 *   caller's task as its parent and the caller's AsyncLocalStorage values. If `g.ctx` ends while
 *   they wait, they are dropped without running, and the group's error becomes `g.ctx.err` unless
 *   a task already failed, so `wait()` never reports skipped work as done.
 * - `await using g = new Group(ctx)` cancels and waits on scope exit; it rethrows the first task
 *   error if `wait()` was never called, so a failure is not lost.
 *
 * Tasks are registered with the task registry (names `group` unless given) and their failures are
 * the group's to report: they are not "unobserved". So always end a group with `wait()` (or
 * `await using`): a group never waited for loses its error, and `g.ctx` stays linked to `parent`
 * until `parent` ends, like a Go context whose cancel function was never called.
 *
 * @example
 * const g = new Group(ctx, { limit: 8 });
 * for (const url of urls) g.go((ctx) => fetchOne(ctx, url));
 * await g.wait(); // rejects with the first failure, after all have stopped
 */
export class Group implements AsyncDisposable {
  /** ctx is the group's context: pass it (it is passed to each fn) to everything the tasks do. */
  readonly ctx: Context;
  readonly #cancel: CancelCauseFunc;
  readonly #limit: number;
  #active = 0;
  // Functions waiting for a slot: an array with a moving head, O(1) amortised.
  #queue: (Queued | undefined)[] = [];
  #queueHead = 0;
  #stopQueue: (() => boolean) | undefined = undefined;
  #failed = false;
  #err: unknown = undefined;
  #waiting: Promise<void> | undefined = undefined;
  #resolveWait: (() => void) | undefined = undefined;
  #rejectWait: ((e: unknown) => void) | undefined = undefined;
  #waitCalled = false;
  #closed = false;
  // The registry reports this group's tasks here instead of as unobserved failures.
  readonly #owner: TaskOwner = { taskSettled: (ok, result) => this.#taskSettled(ok, result) };

  /**
   * new Group(ctx, opts) derives `g.ctx` from `ctx`. `opts.limit` (an integer >= 1, or Infinity;
   * default Infinity, when left out) bounds how many tasks run at once. A bad `ctx`, a non-object
   * `opts` (such as `new Group(ctx, 4)` for `{ limit: 4 }`), an unknown option key or a bad limit
   * (null included) throws TypeError (LEASH_ERR_INVALID_ARG) before anything is derived.
   */
  constructor(parent: Context, opts?: { readonly limit?: number }) {
    const where = 'new Group(ctx, opts)';
    assertContext(parent, where);
    const o = assertOptions(opts, where, ['limit']);
    let limit = readOption(o, 'limit', where);
    // Only a missing limit means the default: null is checked, and refused, like any non-number.
    if (limit === undefined) limit = Number.POSITIVE_INFINITY;
    assertNumber(limit, where, 'opts.limit', { min: 1, integer: true, infinite: true });
    this.#limit = limit;
    [this.ctx, this.#cancel] = withCancelCause(parent);
  }

  /**
   * go runs `fn(g.ctx)` as a task of this group, now or (under `limit`) when a slot frees. It never
   * blocks. Throws `GroupDoneError` once `wait()` has settled.
   */
  go(fn: Fn, opts?: { readonly name?: string }): void {
    assertFunction(fn, 'Group.go(fn, opts)', 'fn');
    const name = taskName(opts, 'Group.go(fn, opts)');
    if (this.#closed) throw new GroupDoneError();
    const site = captureSite(Group.prototype.go);
    if (this.#active < this.#limit) {
      this.#start(fn, name, site);
      return;
    }
    if (this.ctx.err !== undefined) {
      this.#drop();
      return;
    }
    let start!: () => void;
    new Promise<void>((resolve) => {
      start = resolve;
    }).then(() => this.#startQueued(fn, name, site));
    this.#queue.push(start);
    if (this.#stopQueue === undefined) this.#stopQueue = afterFunc(this.ctx, () => this.#dropQueued());
  }

  /**
   * tryGo runs `fn` only if a slot is free now (errgroup's TryGo): true if it started, false if the
   * limit is reached. Throws `GroupDoneError` once `wait()` has settled.
   */
  tryGo(fn: Fn, opts?: { readonly name?: string }): boolean {
    assertFunction(fn, 'Group.tryGo(fn, opts)', 'fn');
    const name = taskName(opts, 'Group.tryGo(fn, opts)');
    if (this.#closed) throw new GroupDoneError();
    if (this.#active >= this.#limit) return false;
    this.#start(fn, name, captureSite(Group.prototype.tryGo));
    return true;
  }

  /**
   * wait resolves when every task has settled, or rejects with the first task error (after every
   * task has settled). Calling it again is safe and settles the same way. The calling task shows
   * the state `group wait` meanwhile.
   */
  wait(): Promise<void> {
    this.#waitCalled = true;
    if (this.#waiting === undefined) {
      this.#waiting = new Promise<void>((resolve, reject) => {
        this.#resolveWait = resolve;
        this.#rejectWait = reject;
      });
      if (this.#active === 0 && this.#queued() === 0) this.#settle();
    }
    return this.#closed ? this.#waiting : withTaskState(this.ctx, 'group wait', this.#waiting);
  }

  /** [Symbol.asyncDispose] cancels `g.ctx` and waits for every task (see the class comment). */
  async [Symbol.asyncDispose](): Promise<void> {
    const waited = this.#waitCalled;
    const failedBefore = this.#failed;
    this.#cancel();
    try {
      await this.wait();
    } catch (err) {
      if (!waited && failedBefore) throw err;
    }
  }

  #taskSettled(ok: boolean, result: unknown): void {
    if (!ok) this.#fail(result);
    this.#active--;
    // A failure just cancelled g.ctx: queued work is dropped now rather than started on a done
    // context (the afterFunc that would drop it runs a microtask later).
    if (this.ctx.err !== undefined && this.#queued() > 0) this.#dropQueued();
    while (this.#active < this.#limit && this.#queued() > 0) {
      const next = this.#queue[this.#queueHead]!;
      this.#queue[this.#queueHead++] = undefined;
      this.#compact();
      this.#active++; // the slot is taken now; the task starts a microtask later
      next();
    }
    if (this.#active === 0 && this.#queued() === 0 && this.#waiting !== undefined) this.#settle();
  }

  #start(fn: Fn, name: string | undefined, site: { stack?: string } | undefined): void {
    this.#active++;
    spawn(this.ctx, fn, name ?? 'group', this.#owner, site);
  }

  // startQueued runs in the async context of the `go` call that queued `fn`, one microtask after
  // #taskSettled took a slot for it. If g.ctx ended in between, `fn` is dropped like any queued work.
  #startQueued(fn: Fn, name: string | undefined, site: { stack?: string } | undefined): void {
    if (this.ctx.err === undefined) {
      spawn(this.ctx, fn, name ?? 'group', this.#owner, site);
      return;
    }
    this.#active--;
    this.#drop();
    if (this.#active === 0 && this.#queued() === 0 && this.#waiting !== undefined) this.#settle();
  }

  #fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#err = err;
    this.#cancel(err);
  }

  #queued(): number {
    return this.#queue.length - this.#queueHead;
  }

  #compact(): void {
    if (this.#queueHead === this.#queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
      if (this.#stopQueue !== undefined) {
        this.#stopQueue();
        this.#stopQueue = undefined;
      }
    } else if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
  }

  // drop records that work was skipped because g.ctx ended.
  #drop(): void {
    this.#fail(this.ctx.err);
  }

  #dropQueued(): void {
    if (this.#stopQueue !== undefined) {
      this.#stopQueue();
      this.#stopQueue = undefined;
    }
    if (this.#queued() === 0) return;
    this.#queue = [];
    this.#queueHead = 0;
    this.#drop();
    if (this.#active === 0 && this.#waiting !== undefined) this.#settle();
  }

  #settle(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancel(this.#failed ? this.#err : undefined);
    if (this.#failed) this.#rejectWait!(this.#err);
    else this.#resolveWait!();
  }
}

// The `{ name }` option of go and tryGo: a string, or absent.
function taskName(opts: { readonly name?: string } | undefined, where: string): string | undefined {
  const o = assertOptions(opts, where, ['name']);
  const name = readOption(o, 'name', where);
  if (name !== undefined && typeof name !== 'string') {
    throw invalidArg(`${where}: opts.name must be a string, got ${describe(name)}`);
  }
  return name;
}
