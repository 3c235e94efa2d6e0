import { background, type Context } from '../context/index.js';
import { assertContext, assertOptions, describe, invalidArg, keepShape } from '../context/internal.js';
import { Channel, enqueue, NONE, type RecvResult } from './channel.js';
import { ChannelClosedError } from './errors.js';
import { Blocker, type Selecting, Waiter } from './wait-queue.js';

/** RecvCase is a `select` case that receives from `recv`: Go's `case v, ok := <-ch`. */
export interface RecvCase<T> {
  readonly recv: Channel<T>;
}

/** SendCase is a `select` case that sends `value` on `send`: Go's `case ch <- value`. */
export interface SendCase<T> {
  readonly send: Channel<T>;
  readonly value: T;
}

/** SelectCase is either kind of case. */
export type SelectCase = RecvCase<unknown> | SendCase<unknown>;

type IndexOf<K> = K extends number ? K : K extends `${infer N extends number}` ? N : never;

type CaseResult<C, I> =
  C extends RecvCase<infer T>
    ? { readonly index: I } & RecvResult<T>
    : { readonly index: I; readonly value?: undefined; readonly ok?: undefined };

/**
 * SelectResult is what `select` resolves to for the cases `C`: a union discriminated by `index`,
 * and for a receive case by `ok` too. A receive case's result carries `value` and `ok` (typed by
 * its channel, so `if (r.index === 0 && r.ok)` narrows `r.value` to the element type); a send
 * case's only its index. Narrow with `if (r.index === 0)` or a `switch`.
 */
export type SelectResult<C extends readonly SelectCase[]> = {
  [K in keyof C]: CaseResult<C[K], IndexOf<K>>;
}[number];

/**
 * CheckedCases checks each send case's `value` against its channel's element type. A mismatch
 * asks for a property whose name says what is wrong, so the compiler's message reads
 * "Property 'value must be a T for this channel' is missing" rather than "not assignable to never".
 */
export type CheckedCases<C extends readonly SelectCase[]> = {
  [K in keyof C]: C[K] extends { readonly send: Channel<infer T>; readonly value: infer V }
    ? [V] extends [T]
      ? unknown
      : { readonly 'send case: value does not match the channel element type': T }
    : unknown;
};

/** DefaultResult is what a `select` with `{ default: true }` resolves to when no case was ready. */
export interface DefaultResult {
  readonly index: -1;
  readonly value?: undefined;
  readonly ok?: undefined;
}

/** SelectOptions are select's options. */
export interface SelectOptions {
  /** true: never block; resolve `{ index: -1 }` when no case is ready (Go's `default:`). Default: false. */
  readonly default?: boolean;
}

const SELECT_OPTIONS = ['default'] as const;
const order: number[] = [];

// The poll order's random numbers: xorshift32 (Marsaglia), seeded once from Math.random. Choosing
// fairly among ready cases needs uniform numbers, not unpredictable ones (Go's runtime uses its
// cheap fastrand for the same choice), and Math.random took about 75 machine instructions per
// select on Node 24, its builtin and its cache refills, in a callgrind profile of
// bench/task-instructions.mjs --case=leash-select's child, against a few here (the bench: 2,920 to
// 2,808 per select on Node 20, 2,819 to 2,757 on Node 24). The state lives in an Int32Array so that its 32-bit
// values are stored unboxed.
const rng = new Int32Array([(Math.random() * 0x7fffffff) | 1]);

// randomBelow returns a uniformly random integer in [0, bound), bound small (a case count).
function randomBelow(bound: number): number {
  let x = rng[0] as number;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  rng[0] = x;
  return (x >>> 0) % bound;
}

/**
 * select waits until one of `cases` can proceed, performs exactly that one, and resolves with its
 * index (and, for a receive, `value` and `ok`), as Go's `select` statement:
 *
 * - When several cases are ready it picks one uniformly at random (a random poll order, as Go's
 *   runtime), so no case starves.
 * - With `{ default: true }` it never blocks: if no case is ready it resolves `{ index: -1 }`.
 * - Otherwise it blocks, with the task state `select`, until a case proceeds or `ctx` ends (it then
 *   rejects with `ctx.err`). An already-done `ctx` rejects at once, whatever the channels hold.
 * - A send case chosen on a closed channel rejects with `ChannelClosedError`, as Go panics.
 * - A non-Context `ctx` or a malformed case throws TypeError (code LEASH_ERR_INVALID_ARG) before
 *   any case is polled, so nothing is sent or taken.
 * - The cases that lose are removed from their channels' queues before the promise settles, so a
 *   select in a loop leaves nothing behind. A select that both sends and receives on one
 *   unbuffered channel never matches itself.
 *
 * Cases are plain objects, `{ recv: ch }` or `{ send: ch, value }`; pass them as an array literal so
 * the result is typed per case.
 *
 * @example
 * const r = await select(ctx, [{ recv: jobs }, { send: results, value: last }]);
 * if (r.index === 0) {
 *   if (!r.ok) return; // jobs closed
 *   handle(r.value);
 * }
 */
export function select<const C extends readonly SelectCase[]>(
  ctx: Context,
  cases: C & CheckedCases<C>,
  opts: { readonly default: true },
): Promise<SelectResult<C> | DefaultResult>;
export function select<const C extends readonly SelectCase[]>(
  ctx: Context,
  cases: C & CheckedCases<C>,
  opts?: { readonly default?: false },
): Promise<SelectResult<C>>;
export function select<const C extends readonly SelectCase[]>(
  ctx: Context,
  cases: C & CheckedCases<C>,
  opts?: SelectOptions,
): Promise<SelectResult<C> | DefaultResult>;
export function select(
  ctx: Context,
  cases: readonly SelectCase[],
  opts?: SelectOptions,
): Promise<{ index: number; value?: unknown; ok?: boolean }> {
  assertContext(ctx, WHERE);
  if (!Array.isArray(cases))
    throw invalidArg(
      `${WHERE}: cases must be an array of { recv: ch } or { send: ch, value }, got ${describe(cases)}`,
    );
  const n = cases.length;
  // The common select, two receive cases and no options (a value or the end), on a path of its
  // own: each case is read and checked once and polled through the Channel that read found, where
  // the general path below reads every case again to poll it (and a getter could answer the two
  // reads differently). Nothing is polled unless both cases are receives, so a malformed case still
  // throws before anything is taken. bench/task-instructions.mjs --case=leash-select: 2,742 to
  // 2,655 instructions per select on Node 20 (README, Performance).
  if (n === 2 && opts === undefined) {
    const r0 = recvChannel(cases[0]);
    if (r0 !== undefined) {
      const r1 = recvChannel(cases[1]);
      if (r1 !== undefined) {
        if (ctx.err !== undefined) return Promise.reject(ctx.err);
        const first = randomBelow(2);
        const done =
          first === 0 ? (pollRecv(r0, 0) ?? pollRecv(r1, 1)) : (pollRecv(r1, 1) ?? pollRecv(r0, 0));
        if (done !== undefined) return done;
        return block(ctx, cases, n);
      }
    }
  }
  for (let i = 0; i < n; i++) checkCase(cases[i], i);
  let nonBlocking = false;
  if (opts !== undefined) {
    const d = assertOptions(opts, WHERE, SELECT_OPTIONS).default;
    if (d !== undefined && typeof d !== 'boolean')
      throw invalidArg(`${WHERE}: opts.default must be true or false, got ${describe(d)}`);
    nonBlocking = d === true;
  }
  if (ctx.err !== undefined) return Promise.reject(ctx.err);

  // Pass 1: poll the cases in a random order; the first ready one in a uniformly random
  // permutation is uniformly random among the ready ones. Two cases (the common select: a value
  // or the end) need one random bit and no permutation array.
  if (n === 2) {
    const first = randomBelow(2);
    const done = poll(cases[first]!, first) ?? poll(cases[1 - first]!, 1 - first);
    if (done !== undefined) return done;
  } else {
    // (order only grows: shrinking an array by assigning its length is slow in V8.)
    if (n > 0) order[0] = 0;
    for (let i = 1; i < n; i++) {
      const j = randomBelow(i + 1);
      order[i] = order[j]!;
      order[j] = i;
    }
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      const done = poll(cases[i]!, i);
      if (done !== undefined) return done;
    }
  }
  if (nonBlocking) return Promise.resolve({ index: -1 });
  return block(ctx, cases, n);
}

// block is select's second pass, when no case was ready: it waits on every case.
function block(
  ctx: Context,
  cases: readonly SelectCase[],
  n: number,
): Promise<{ index: number; value?: unknown; ok?: boolean }> {
  // Pass 2: nothing ready; wait on every case. Nothing is matched while enqueueing, so a select
  // cannot meet its own opposite case.
  const op = new SelectOp(ctx);
  // A closure per select, as Channel's #block does (the reason is there).
  const p = new Promise<{ index: number; value?: unknown; ok?: boolean }>((resolve, reject) => {
    op.resolve = resolve;
    op.reject = reject;
  });
  for (let i = 0; i < n; i++) {
    const c = cases[i] as SelectCase;
    const r = recvChannel(c);
    if (r !== undefined) {
      const w = new Waiter(ctx, undefined, op, i);
      op.waiters.push(w);
      enqueue(r, w, false);
    } else {
      const s = (c as Partial<SendCase<unknown>>).send;
      if (!(s instanceof Channel)) {
        op.abandon();
        throw caseChanged(c, i);
      }
      const w = new Waiter(ctx, (c as SendCase<unknown>).value, op, i);
      op.waiters.push(w);
      enqueue(s, w, true);
    }
  }
  op.block(ctx, 'select');
  return p;
}

const WHERE = 'select(ctx, cases, opts)';

// poll performs case `c` (index i) if it can proceed without blocking and returns select's
// settled promise, or undefined. Its kind is decided as checkCase decided it: a Channel in `recv`
// makes a receive case.
function poll(
  c: SelectCase,
  i: number,
): Promise<{ index: number; value?: unknown; ok?: boolean }> | undefined {
  const r = recvChannel(c);
  if (r !== undefined) return pollRecv(r, i);
  const s = (c as Partial<SendCase<unknown>>).send;
  if (!(s instanceof Channel)) throw caseChanged(c, i);
  if (s.closed) return Promise.reject(new ChannelClosedError());
  if (s.trySend((c as SendCase<unknown>).value)) return Promise.resolve({ index: i });
  return undefined;
}

// pollRecv performs the receive case `i` on `r` if it can proceed without blocking and returns
// select's settled promise, or undefined.
function pollRecv(
  r: Channel<unknown>,
  i: number,
): Promise<{ index: number; value?: unknown; ok?: boolean }> | undefined {
  const v = r._poll();
  if (v !== NONE) return Promise.resolve({ index: i, value: v, ok: true });
  if (r.closed) return Promise.resolve({ index: i, value: undefined, ok: false });
  return undefined;
}

// recvChannel returns the Channel of a receive case, or undefined: the one test of a receive case,
// which the check, both polls and the enqueue share.
function recvChannel(c: unknown): Channel<unknown> | undefined {
  if (c !== null && typeof c === 'object') {
    const r = (c as Partial<RecvCase<unknown>>).recv;
    if (r instanceof Channel) return r;
  }
  return undefined;
}

// caseChanged is the error for a case that passed checkCase and then, read again, held no
// Channel in either key (a getter, or a Proxy, that answers differently from one read to the next).
function caseChanged(c: unknown, i: number): TypeError {
  return invalidArg(
    `${WHERE}: case ${i} changed after it was checked (a getter or Proxy?): it must hold its Channel in recv or send as a plain property, got ${describe(c)}`,
  );
}

// checkCase throws TypeError (code LEASH_ERR_INVALID_ARG) unless `c` is a case: a Channel in
// `recv` makes a receive case (whatever else it holds); otherwise a Channel in `send` and a
// `value` make a send case. select's passes decide the kind by the same test.
function checkCase(c: unknown, i: number): void {
  if (recvChannel(c) !== undefined) return;
  if (c !== null && typeof c === 'object') {
    if ((c as Partial<SendCase<unknown>>).send instanceof Channel && 'value' in c) return;
  }
  throw invalidArg(
    `${WHERE}: case ${i} must be { recv: Channel } or { send: Channel, value }, got ${describe(c)}`,
  );
}

// SelectOp is one blocked select. Its case waiters sit in the channels' queues; whichever channel
// completes a case first calls winRecv() or winSend(), which unlink every other case before settling.
class SelectOp extends Blocker implements Selecting {
  // Declared and assigned in the constructor, as Blocker's fields are (one per blocked select).
  declare readonly ctx: Context;
  declare readonly waiters: Waiter[];
  declare resolve: ((r: { index: number; value?: unknown; ok?: boolean }) => void) | undefined;
  declare reject: ((e: unknown) => void) | undefined;
  declare settled: boolean;

  constructor(ctx: Context) {
    super();
    this.ctx = ctx;
    this.waiters = [];
    this.resolve = undefined;
    this.reject = undefined;
    this.settled = false;
  }

  winRecv(w: Waiter, value: unknown, ok: boolean): void {
    this.#finish();
    this.resolve!({ index: w.index, value, ok });
  }

  winSend(w: Waiter): void {
    this.#finish();
    this.resolve!({ index: w.index });
  }

  fail(_w: Waiter, err: unknown): void {
    this.#finish();
    this.reject!(err);
  }

  override ended(): void {
    this.abort();
  }

  abort(): void {
    if (this.settled) return;
    this.#finish();
    this.reject!(this.ctx.err);
  }

  /**
   * abandon marks the select settled and takes its case waiters out of their queues: on its own
   * for a select that throws before it blocks, and as the first half of #finish.
   */
  abandon(): void {
    this.settled = true;
    for (const w of this.waiters) if (w.queue !== undefined) w.queue.remove(w);
  }

  #finish(): void {
    this.abandon();
    this.unblock();
  }
}

keepShape(new SelectOp(background()));
