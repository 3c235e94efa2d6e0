import { background, type Context, isContext } from '../context/index.js';
import { assertContext, assertNumber, keepShape } from '../context/internal.js';
import { ChannelClosedError } from './errors.js';
import type { TaskState } from './registry.js';
import { Waiter, WaitQueue } from './wait-queue.js';

/**
 * RecvResult is what a receive yields, discriminated by `ok`: `{ value, ok: true }` carries a value
 * that was sent; `{ value: undefined, ok: false }` means the channel is closed and drained. So
 * `if (r.ok)` narrows `r.value` to `T`, as Go's `v, ok := <-ch`.
 */
export type RecvResult<T> =
  | { readonly value: T; readonly ok: true }
  | { readonly value: undefined; readonly ok: false };

const RESOLVED: Promise<void> = Promise.resolve();
const CLOSED: RecvResult<never> = Object.freeze({ value: undefined, ok: false });
const CLOSED_PROMISE: Promise<RecvResult<never>> = Promise.resolve(CLOSED);
const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });
const DONE_PROMISE: Promise<IteratorReturnResult<undefined>> = Promise.resolve(DONE);

/** What a poll returns when nothing is ready (a value can be anything, undefined included). */
export const NONE: unique symbol = Symbol('none');

// check is assertContext behind the core's isContext, whose first test (instanceof a leash
// context) is one load on the hot path; the structural test and the message only on failure.
function check(ctx: unknown, where: string): asserts ctx is Context {
  if (!isContext(ctx)) assertContext(ctx, where);
}

/** enqueue puts a select case's waiter on a channel's send or receive queue (select.ts only). */
export let enqueue: (ch: Channel<unknown>, w: Waiter, send: boolean) => void;
/** queueSizes returns [senders, receivers] waiting, for tests. */
export let queueSizes: (ch: Channel<unknown>) => [number, number];

/**
 * Channel is Go's `chan T` for tasks: a FIFO of `capacity` slots shared by senders and receivers.
 *
 * - Unbuffered (`capacity` 0, the default) is a rendezvous: `send` resolves only when a receiver
 *   has taken the value.
 * - Buffered: `send` resolves as soon as the value is in the buffer; values come out in the order
 *   they went in; blocked senders and receivers are served first-come, first-served.
 * - `close()` marks the end of the stream: receivers drain what is buffered, then get
 *   `{ value: undefined, ok: false }`; pending and later sends reject with `ChannelClosedError`.
 *   Closing twice throws `ChannelClosedError`. Only the sending side should close.
 * - Every blocking operation takes a context. When it ends first the operation rejects with
 *   `ctx.err`, leaves the wait queue, and has neither delivered nor taken a value: a value is never
 *   lost or handed out twice. (The waiter is unlinked by the context's `afterFunc` callback, one
 *   microtask after the cancel; in between, `ctx.err` is already set and every hand-off checks it,
 *   so the waiter can no longer be matched.) An operation on a context that is already done rejects
 *   at once, whatever the channel's state. While blocked on a context with a deadline, the
 *   operation keeps the process alive until the deadline (docs/architecture.md, core rules).
 * - `send`, `recv` and `range` check `ctx` before anything else: a non-Context (say, a swapped
 *   `send(value, ctx)`) throws TypeError (code LEASH_ERR_INVALID_ARG) at once, whatever the
 *   channel's state, and delivers or takes nothing.
 *
 * A blocked operation is referenced by the channel's queue and by its context's callback list,
 * and by nothing else once it settles; a million operations cancelled in a loop leave nothing.
 *
 * @example
 * const ch = new Channel<number>();
 * go(ctx, async (ctx) => {
 *   for (let i = 0; i < 3; i++) await ch.send(ctx, i);
 *   ch.close();
 * });
 * for await (const v of ch.range(ctx)) console.log(v); // 0 1 2
 */
export class Channel<T> {
  readonly #capacity: number;
  // Ring buffer: grows by doubling up to `capacity`, so `new Channel(1e6)` costs nothing until used.
  #buf: (T | undefined)[];
  #mask: number;
  #head = 0;
  #count = 0;
  #closed = false;
  readonly #recvq = new WaitQueue();
  readonly #sendq = new WaitQueue();

  constructor(capacity = 0) {
    // The ring indexes with a 32-bit mask, hence the upper bound.
    assertNumber(capacity, 'new Channel(capacity)', 'capacity', { min: 0, max: 2 ** 30, integer: true });
    this.#capacity = capacity;
    const size = capacity === 0 ? 0 : Math.min(16, 2 ** Math.ceil(Math.log2(capacity)));
    this.#buf = new Array(size);
    this.#mask = size - 1;
  }

  /** capacity is the buffer size given to the constructor (0 for a rendezvous channel). */
  get capacity(): number {
    return this.#capacity;
  }

  /** length is the number of values in the buffer now, as Go's `len(ch)`. */
  get length(): number {
    return this.#count;
  }

  /** closed reports whether close() has been called (values may still be buffered). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * send delivers `value`: straight to a waiting receiver, into the buffer if it has room, or else
   * blocks until one of those becomes possible. Rejects with `ChannelClosedError` if the channel is
   * or becomes closed first, or with `ctx.err` if the context ends first (the value then was not
   * delivered). A send that completes at once returns a shared resolved promise and allocates nothing.
   */
  send(ctx: Context, value: T): Promise<void> {
    check(ctx, 'Channel.send(ctx, value)');
    if (ctx.err !== undefined) return Promise.reject(ctx.err);
    if (this.#closed) return Promise.reject(new ChannelClosedError());
    if (this.#offer(value)) return RESOLVED;
    return this.#block(this.#sendq, ctx, value, 'chan send');
  }

  /**
   * recv takes the next value: from the buffer, from a waiting sender, or blocks until one comes.
   * Resolves `{ value, ok: true }`, or `{ value: undefined, ok: false }` once the channel is closed
   * and drained. Rejects with `ctx.err` if the context ends first (no value was taken).
   */
  recv(ctx: Context): Promise<RecvResult<T>> {
    check(ctx, 'Channel.recv(ctx)');
    return this.#recv(ctx);
  }

  #recv(ctx: Context): Promise<RecvResult<T>> {
    if (ctx.err !== undefined) return Promise.reject(ctx.err);
    // Fast path: a value (or the end) is ready, so the receive completes without a suspension and
    // costs one result object and one already-resolved promise.
    if (this.#count > 0 || this.#sendq.size > 0) {
      const v = this.#take();
      if (v !== NONE) return Promise.resolve({ value: v, ok: true });
    }
    if (this.#closed) return CLOSED_PROMISE;
    return this.#block(this.#recvq, ctx, undefined, 'chan receive');
  }

  /**
   * trySend sends without blocking (Go's `select` with a `default`): true if a receiver took the
   * value or the buffer had room, false if it would have blocked. Throws `ChannelClosedError` on a
   * closed channel.
   */
  trySend(value: T): boolean {
    if (this.#closed) throw new ChannelClosedError();
    return this.#offer(value);
  }

  /**
   * tryRecv receives without blocking: `{ value, ok: true }` if a value was ready,
   * `{ value: undefined, ok: false }` if the channel is closed and drained, `undefined` if it would
   * have blocked.
   */
  tryRecv(): RecvResult<T> | undefined {
    const v = this.#take();
    if (v !== NONE) return { value: v, ok: true };
    return this.#closed ? CLOSED : undefined;
  }

  // take removes the next value, from the buffer or a live blocked sender; NONE if neither.
  // Returns the bare value so each caller allocates only the result shape it hands out.
  #take(): T | typeof NONE {
    if (this.#count > 0) {
      const value = this.#buf[this.#head] as T;
      this.#buf[this.#head] = undefined;
      this.#head = (this.#head + 1) & this.#mask;
      this.#count--;
      // A full buffer may have blocked senders: move the first live one's value in behind.
      if (this.#sendq.size > 0) {
        const s = this.#sendq.takeLive();
        if (s !== undefined) {
          this.#push(s.value as T);
          wakeSender(s);
        }
      }
      return value;
    }
    if (this.#sendq.size > 0) {
      const s = this.#sendq.takeLive();
      if (s !== undefined) {
        const value = s.value as T;
        wakeSender(s);
        return value;
      }
    }
    return NONE;
  }

  /**
   * close ends the stream: blocked receivers wake with `ok: false` (buffered values are still
   * received first), blocked senders reject with `ChannelClosedError`, and so do later sends.
   * Closing a closed channel throws `ChannelClosedError`.
   */
  close(): void {
    if (this.#closed)
      throw new ChannelClosedError('close of closed channel: close a channel once, from the sending side');
    this.#closed = true;
    // Receivers can be waiting only while the buffer is empty.
    for (let w = this.#recvq.takeLive(); w !== undefined; w = this.#recvq.takeLive())
      wakeReceiver(w, undefined, false);
    for (let w = this.#sendq.takeLive(); w !== undefined; w = this.#sendq.takeLive())
      failSender(w, new ChannelClosedError());
  }

  /**
   * range iterates received values until the channel is closed and drained, or until `ctx` ends:
   * either way the loop just ends (as Go's `select { case <-ctx.Done(): return }` idiom), so check
   * `ctx.err` after the loop if the difference matters. Leaving the loop early (`break`, `return`,
   * a throw) takes nothing more from the channel.
   */
  range(ctx: Context): AsyncIterableIterator<T> {
    check(ctx, 'Channel.range(ctx)');
    return new RangeIterator(this, ctx);
  }

  /**
   * @internal range()'s step without a suspension: the next value as an IteratorResult, the end
   * (closed and drained, or `ctx` done), or undefined when it would block.
   */
  _tryNext(ctx: Context): IteratorResult<T> | undefined {
    if (ctx.err !== undefined) return DONE;
    if (this.#count > 0 || this.#sendq.size > 0) {
      const v = this.#take();
      if (v !== NONE) return { value: v, done: false };
    }
    return this.#closed ? DONE : undefined;
  }

  /** @internal select's poll: the next value without a result object, or NONE. */
  _poll(): T | typeof NONE {
    return this.#take();
  }

  /** @internal The receive behind range(): recv without the argument check. */
  _recv(ctx: Context): Promise<RecvResult<T>> {
    return this.#recv(ctx);
  }

  // offer hands `value` to a live waiting receiver or puts it in the buffer; false if neither.
  #offer(value: T): boolean {
    if (this.#recvq.size > 0) {
      const r = this.#recvq.takeLive();
      if (r !== undefined) {
        wakeReceiver(r, value, true);
        return true;
      }
    }
    if (this.#count < this.#capacity) {
      this.#push(value);
      return true;
    }
    return false;
  }

  #push(value: T): void {
    if (this.#count === this.#buf.length) this.#grow();
    this.#buf[(this.#head + this.#count) & this.#mask] = value;
    this.#count++;
  }

  #grow(): void {
    const old = this.#buf;
    const size = Math.min(old.length * 2, 2 ** Math.ceil(Math.log2(this.#capacity)));
    const buf = new Array<T | undefined>(size);
    for (let i = 0; i < this.#count; i++) buf[i] = old[(this.#head + i) & this.#mask];
    this.#buf = buf;
    this.#mask = size - 1;
    this.#head = 0;
  }

  #block<R>(q: WaitQueue, ctx: Context, value: unknown, state: TaskState): Promise<R> {
    const w = new Waiter(ctx, value, undefined, -1);
    // A closure per operation that stores the resolving functions in the (new) waiter. A shared
    // executor that handed them over through a module-level object cost more: each hand-over stored
    // two new functions into an old object, which V8's write barrier records one by one (about 280
    // machine instructions per hand-off, more than the closure).
    const p = new Promise<R>((resolve, reject) => {
      w.resolve = resolve;
      w.reject = reject;
    });
    q.push(w);
    w.block(ctx, state);
    return p;
  }

  static {
    enqueue = (ch, w, send) => (send ? ch.#sendq : ch.#recvq).push(w);
    queueSizes = (ch) => [ch.#sendq.size, ch.#recvq.size];
  }
}

// RangeIterator is range() written out rather than as an async generator: an async generator
// costs a promise for next(), another for the await inside and a queue of requests per value;
// this costs the receive's own promise and one IteratorResult. A value that is already buffered
// is handed out without a suspension, so a consumer woken once drains everything that was sent
// meanwhile, each from an already-resolved promise.
class RangeIterator<T> implements AsyncIterableIterator<T> {
  readonly #ch: Channel<T>;
  readonly #ctx: Context;
  #done = false;

  constructor(ch: Channel<T>, ctx: Context) {
    this.#ch = ch;
    this.#ctx = ctx;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#done) return DONE_PROMISE;
    const ready = this.#ch._tryNext(this.#ctx);
    if (ready !== undefined) {
      if (ready === DONE) this.#done = true;
      return Promise.resolve(ready);
    }
    return this.#ch._recv(this.#ctx).then(this.#onResult, this.#onError);
  }

  // Bound once per loop, not per value.
  readonly #onResult = (r: RecvResult<T>): IteratorResult<T> => {
    if (r.ok) return { value: r.value, done: false };
    this.#done = true;
    return DONE;
  };

  readonly #onError = (err: unknown): IteratorResult<T> => {
    this.#done = true;
    if (err === this.#ctx.err) return DONE;
    throw err;
  };

  return(): Promise<IteratorResult<T>> {
    this.#done = true;
    return DONE_PROMISE;
  }

  throw(err?: unknown): Promise<IteratorResult<T>> {
    this.#done = true;
    return Promise.reject(err);
  }
}

keepShape(new RangeIterator(new Channel(), background()));

function wakeReceiver(w: Waiter, value: unknown, ok: boolean): void {
  if (w.sel !== undefined) {
    w.sel.winRecv(w, value, ok);
    return;
  }
  w.unblock();
  w.resolve!(ok ? { value, ok } : CLOSED);
}

function wakeSender(w: Waiter): void {
  if (w.sel !== undefined) {
    w.sel.winSend(w);
    return;
  }
  w.unblock();
  w.resolve!(undefined);
}

function failSender(w: Waiter, err: Error): void {
  if (w.sel !== undefined) {
    w.sel.fail(w, err);
    return;
  }
  w.unblock();
  w.reject!(err);
}
