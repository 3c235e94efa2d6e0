import { afterFunc, type Context, remaining } from '../context/index.js';
import { assertNumber, assertOneOf, assertOptions } from '../context/internal.js';
import { BulkheadRejectedError, policyName } from './errors.js';
import { channels, publish } from './events.js';
import { CHAINS, type Chain, EXIT, execute, type InnerPolicy, RUN } from './policy.js';
import { holdPermit, ONCE, type PermitOwner, SETTLES } from './work.js';

/** BulkheadOptions configure bulkhead(). */
export interface BulkheadOptions {
  /** limit is how many calls run at once. An integer >= 1. Required. */
  readonly limit: number;
  /** queue is how many calls may wait for a permit. An integer >= 0 (Infinity allowed). Default: 0. */
  readonly queue?: number;
  /** order is which waiter gets a freed permit: the oldest ('fifo') or the newest ('lifo'). Default: 'fifo'. */
  readonly order?: 'fifo' | 'lifo';
  /** name labels events and messages: a non-empty string. Default: 'bulkhead'. */
  readonly name?: string;
}

// A queued call: a node of an intrusive doubly linked list, so that a waiter whose context ends
// leaves the queue in O(1), wherever it stands.
interface Waiter {
  prev: Waiter | null;
  next: Waiter | null;
  ctx: Context;
  fn: (ctx: Context) => Promise<unknown>;
  chain: Chain | undefined;
  i: number;
  resolve: (p: Promise<unknown>) => void;
  stop: (() => boolean) | null;
  queued: boolean;
}

// Weight of the newest sample in the running average of how long a permit is held.
const EWMA_WEIGHT = 0.2;

/**
 * bulkhead returns a policy that runs at most `limit` calls at once and lets at most `queue` more
 * wait for a permit, in `order`. A permit is held until the work's promise settles, even after its
 * caller gave up (its context ended, or a timeout released it): abandoned work still counts, so
 * the limit is never exceeded, in any order of wrap(). With a retry or a hedge inside it, each
 * running call of fn holds a permit: an attempt beside an abandoned one waits or is rejected. A waiter whose context ends leaves the queue at once and gets
 * ctx.err; a waiter whose remaining budget is shorter than the expected wait (from a running
 * average of how long permits are held) is rejected at once with BulkheadRejectedError, as is a
 * call that finds the queue full. `fn` gets the caller's context.
 *
 * @example
 * const db = bulkhead({ limit: 10, queue: 100 });
 * const rows = await db.execute(ctx, (ctx) => query(ctx, pool, sql));
 */
export function bulkhead(options: BulkheadOptions): Bulkhead {
  const where = 'bulkhead(options)';
  const opts = assertOptions(options, where, ['limit', 'queue', 'order', 'name']);
  assertNumber(opts.limit, where, 'limit', { min: 1, integer: true });
  const queue = opts.queue ?? 0;
  assertNumber(queue, where, 'queue', { min: 0, integer: true, infinite: true });
  const order = opts.order ?? 'fifo';
  assertOneOf(order, where, 'order', ['fifo', 'lifo'] as const);
  return new Bulkhead(opts.limit, queue, order, policyName(opts.name, where, 'bulkhead'));
}

/** Bulkhead is the policy made by bulkhead(). */
export class Bulkhead implements InnerPolicy, PermitOwner {
  /** limit and queue are the sizes it was made with. */
  readonly limit: number;
  readonly queue: number;
  readonly #lifo: boolean;
  readonly #name: string;
  #active = 0;
  #queued = 0;
  #head: Waiter | null = null;
  #tail: Waiter | null = null;
  #avgHeldMs = 0;

  constructor(limit: number, queue: number, order: 'fifo' | 'lifo', name: string) {
    this.limit = limit;
    this.queue = queue;
    this.#lifo = order === 'lifo';
    this.#name = name;
  }

  /** active is how many permits are held: calls running, including those whose caller gave up. */
  get active(): number {
    return this.#active;
  }

  /** queued is how many calls wait for a permit. */
  get queued(): number {
    return this.#queued;
  }

  execute<T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T> {
    return execute(this, ctx, fn, 'bulkhead(options).execute(ctx, fn)');
  }

  /** @internal Its RUN proceeds along a wrap()'s chain. */
  readonly [CHAINS] = true;
  /** @internal Its RUN settles once the work it started has. */
  readonly [SETTLES] = true;

  /** @internal Without a queue, its RUN calls the rest of the chain at once or not at all. */
  get [ONCE](): boolean {
    return this.queue === 0;
  }

  /** @internal Whether a call waits for a permit (a lent permit is then given back early). */
  get contended(): boolean {
    return this.#queued > 0;
  }

  [RUN]<T>(ctx: Context, fn: (ctx: Context) => Promise<T>, chain?: Chain, i = 0): Promise<T> {
    if (this.#active < this.limit && this.#queued === 0) return this.#start(ctx, fn, chain, i);
    if (this.#queued >= this.queue) return this.#reject('full');
    // The expected wait: the waiters ahead of this one and this one, served `limit` at a time,
    // each for about the average hold. Only known once some permit has been released.
    if (this.#avgHeldMs > 0) {
      const ahead = this.#lifo ? 0 : this.#queued;
      // The calls running now are, on average, half-way through their hold.
      const expected = (Math.floor(ahead / this.limit) + 0.5) * this.#avgHeldMs;
      if (remaining(ctx) < expected) return this.#reject('budget');
    }
    return new Promise<T>((resolve) => {
      const w: Waiter = {
        prev: null,
        next: null,
        ctx,
        fn: fn as (ctx: Context) => Promise<unknown>,
        chain,
        i,
        resolve: resolve as (p: Promise<unknown>) => void,
        stop: null,
        queued: true,
      };
      this.#enqueue(w);
      // The caller's race (execute or wrap) answers it with ctx.err; here it only leaves the
      // queue, so that it never takes a permit for a caller who has gone.
      w.stop = afterFunc(ctx, () => {
        if (!w.queued) return;
        this.#remove(w);
        resolve(Promise.reject(ctx.err) as Promise<T>);
      });
    });
  }

  #start<T>(ctx: Context, fn: (ctx: Context) => Promise<T>, chain: Chain | undefined, i: number): Promise<T> {
    this.#active++;
    // Hold times feed the expected-wait check, which only a bulkhead with a queue makes: without
    // one, no clock is read.
    const startedAt = this.queue === 0 ? -1 : performance.now();
    return holdPermit(this, ctx, fn, chain, i, startedAt, 0);
  }

  /** @internal The work of a permit taken at `startedAt` (-1: not timed) has settled. */
  [EXIT](startedAt: number): void {
    if (startedAt >= 0) {
      const held = performance.now() - startedAt;
      this.#avgHeldMs =
        this.#avgHeldMs === 0 ? held : this.#avgHeldMs + EWMA_WEIGHT * (held - this.#avgHeldMs);
    }
    this.#released();
  }

  #reject<T>(reason: 'full' | 'budget'): Promise<T> {
    publish(channels.bulkheadRejected, () => ({
      name: this.#name,
      reason,
      active: this.#active,
      queued: this.#queued,
    }));
    return Promise.reject(new BulkheadRejectedError(this.limit, this.queue, reason, this.#name));
  }

  #released(): void {
    this.#active--;
    while (this.#active < this.limit) {
      const w = this.#lifo ? this.#tail : this.#head;
      if (w === null) return;
      this.#remove(w);
      w.stop?.();
      if (w.ctx.err !== undefined) {
        w.resolve(Promise.reject(w.ctx.err));
        continue;
      }
      w.resolve(this.#start(w.ctx, w.fn, w.chain, w.i));
    }
  }

  #enqueue(w: Waiter): void {
    w.prev = this.#tail;
    if (this.#tail === null) this.#head = w;
    else this.#tail.next = w;
    this.#tail = w;
    this.#queued++;
  }

  #remove(w: Waiter): void {
    if (!w.queued) return;
    w.queued = false;
    if (w.prev === null) this.#head = w.next;
    else w.prev.next = w.next;
    if (w.next === null) this.#tail = w.prev;
    else w.next.prev = w.prev;
    w.prev = w.next = null;
    this.#queued--;
  }
}
