// The in-process backend: a bounded queue in memory. Jobs live as long as the process; use
// redisStreams() when they must survive it or be shared between processes.
import { randomUUID } from 'node:crypto';
import { afterFunc, type Context } from '../context/index.js';
import { assertNumber, assertOptions, hold, keepShape, readOption, release } from '../context/internal.js';
import type { Backend, Binding, Consumer, DeadLetter, Delivery, NewJob } from './backend.js';
import { DelayHeap } from './delay-heap.js';
import { Deque } from './deque.js';
import { QueueClosedError } from './errors.js';
import { depthChannel } from './events.js';
import { type Indexed, JobIndex } from './job-index.js';

/** MemoryBackendOptions configure memoryBackend(). */
export interface MemoryBackendOptions {
  /**
   * capacity bounds the jobs waiting to start (ready and delayed). An enqueue past it waits for
   * room until its context ends. Retries and hand-backs of jobs already accepted never wait and
   * are never dropped. Minimum 1. Default 10000.
   */
  readonly capacity?: number;
}

/**
 * memoryBackend keeps a queue's jobs in this process: bounded (enqueue waits for room), with
 * delayed jobs, retries and dead letters, and no server. Jobs do not survive the process; a job id
 * is deduplicated while that job is waiting or running.
 *
 * @example
 * const q = createQueue<{ orderId: string }>({ name: 'emails', backend: memoryBackend({ capacity: 1000 }) });
 */
export function memoryBackend(options?: MemoryBackendOptions): Backend {
  const where = 'memoryBackend(options)';
  const o = assertOptions(options, where, ['capacity']);
  let capacity = readOption(o, 'capacity', where);
  // Only a missing option means the default: null is checked, and refused, like any non-number.
  if (capacity === undefined) capacity = 10_000;
  assertNumber(capacity, where, 'capacity', { min: 1, integer: true, infinite: true });
  return Object.freeze({
    kind: 'memory' as const,
    bind: (queue: string) => new MemoryBinding(queue, capacity),
  });
}

type State = 'ready' | 'delayed' | 'active' | 'gone';

// The time MemJob's times count from: this module's load.
const EPOCH = Date.now();

/**
 * MemJob is one job's record, and the Delivery a consumer is handed for each attempt (no copy per
 * attempt). `state` 'gone' marks an entry the deque or heap skips lazily.
 */
class MemJob implements Delivery, Indexed {
  readonly id: string;
  readonly data: unknown;
  readonly deadline: number | undefined;
  readonly reclaimed = false;
  /** attempt counts the attempts taken, this one included; a hand-back does not count its own. */
  attempt = 0;
  /** uncounted says the last attempt was handed back: the next take does not count a new one. */
  uncounted = false;
  // Times in ms since EPOCH: small integers V8 keeps in the record itself, where epoch-ms doubles
  // would each be a separate heap number per job (a backlog of a million jobs pays for them in GC).
  #readyRel: number;
  #runRel: number;
  state: State = 'ready';
  seq = 0;

  /** readyAt is when the job became ready to run (epoch ms). */
  get readyAt(): number {
    return EPOCH + this.#readyRel;
  }
  set readyAt(t: number) {
    this.#readyRel = t - EPOCH;
  }
  /** runAt is when a delayed job may start (epoch ms). */
  get runAt(): number {
    return EPOCH + this.#runRel;
  }
  set runAt(t: number) {
    this.#runRel = t - EPOCH;
  }

  constructor(job: NewJob) {
    this.id = job.id;
    this.data = job.data;
    this.deadline = job.deadline;
    this.#readyRel = job.enqueuedAt - EPOCH;
    this.#runRel = (job.runAt ?? job.enqueuedAt) - EPOCH;
  }
}

// A drained queue drops every record: keep the layout for the next burst (context/keep-shape.ts).
keepShape(
  new MemJob({
    id: '',
    data: undefined,
    json: 'null',
    deadline: undefined,
    runAt: undefined,
    enqueuedAt: EPOCH,
  }),
);

// A waiter blocked on a context with a deadline holds the process alive until it stops waiting,
// as a pending timer would (docs/architecture.md, core rules); `held` says whether it took a hold.
interface RoomWaiter {
  ctx: Context;
  job: NewJob;
  resolve: (added: boolean) => void;
  reject: (err: unknown) => void;
  stop: () => boolean;
  held: boolean;
}

export interface FetchWaiter {
  ctx: Context;
  max: number;
  resolve: (jobs: Delivery[]) => void;
  held: boolean;
}

function unhold(w: { held: boolean }): void {
  if (w.held) {
    w.held = false;
    release();
  }
}

export class MemoryBinding implements Binding {
  readonly #queue: string;
  readonly #capacity: number;
  readonly #jobs = new JobIndex<MemJob>(`${randomUUID().slice(0, 8)}-`);
  readonly #ready = new Deque<MemJob>();
  readonly #delayed = new DelayHeap<MemJob>();
  #readyCount = 0;
  #delayedCount = 0;
  readonly #roomWaiters = new Deque<RoomWaiter>();
  readonly #fetchWaiters = new Deque<FetchWaiter>();
  readonly #listeners = new Set<(id: string, reason: unknown) => void>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #closed = false;
  readonly #dead: DeadLetter[] = [];

  constructor(queue: string, capacity: number) {
    this.#queue = queue;
    this.#capacity = capacity;
  }

  enqueue(ctx: Context, job: NewJob): Promise<boolean> {
    if (this.#closed) return Promise.reject(new QueueClosedError(this.#queue, 'enqueue'));
    if (ctx.err !== undefined) return Promise.reject(ctx.err);
    if (this.#jobs.has(job.id)) return Promise.resolve(false);
    if (this.#waiting() < this.#capacity && this.#roomWaiters.length === 0) {
      this.#add(job);
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve, reject) => {
      const w: RoomWaiter = {
        ctx,
        job,
        resolve,
        reject,
        stop: () => false,
        held: ctx.deadline !== undefined,
      };
      if (w.held) hold();
      this.#roomWaiters.push(w);
      w.stop = afterFunc(ctx, () => {
        if (this.#roomWaiters.remove(w)) {
          unhold(w);
          reject(ctx.err);
        }
      });
    });
  }

  tryEnqueue(ctx: Context, job: NewJob): boolean | undefined {
    if (this.#closed || ctx.err !== undefined) return undefined;
    if (this.#jobs.has(job.id)) return false;
    if (this.#waiting() >= this.#capacity || this.#roomWaiters.length > 0) return undefined;
    this.#add(job);
    return true;
  }

  async cancel(id: string, reason: unknown): Promise<'queued' | 'running' | undefined> {
    const j = this.#jobs.get(id);
    if (j === undefined) return undefined;
    if (j.state === 'active') {
      for (const l of this.#listeners) l(id, reason);
      return 'running';
    }
    if (j.state === 'ready') this.#readyCount--;
    else if (j.state === 'delayed') this.#delayedCount--;
    j.state = 'gone';
    this.#jobs.delete(j);
    this.#makeRoom();
    this.#depthChanged();
    return 'queued';
  }

  async depth(): Promise<number> {
    return this.#waiting();
  }

  /** depthNow is depth without a promise, for events. */
  depthNow(): number {
    return this.#waiting();
  }

  async deadLetters(count: number): Promise<DeadLetter[]> {
    return this.#dead.slice(0, count);
  }

  consumer(): Consumer {
    return new MemoryConsumer(this);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (let w = this.#roomWaiters.shift(); w !== undefined; w = this.#roomWaiters.shift()) {
      w.stop();
      unhold(w);
      w.reject(new QueueClosedError(this.#queue, 'enqueue'));
    }
    for (let f = this.#fetchWaiters.shift(); f !== undefined; f = this.#fetchWaiters.shift()) {
      unhold(f);
      f.resolve([]);
    }
    this.#clearTimer();
  }

  get closed(): boolean {
    return this.#closed;
  }

  addListener(l: (id: string, reason: unknown) => void): void {
    this.#listeners.add(l);
  }

  removeListener(l: (id: string, reason: unknown) => void): void {
    this.#listeners.delete(l);
  }

  /** newId makes an id unique in this queue, cheaper to make and to find than a UUID. */
  newId(): string {
    return this.#jobs.newId();
  }

  take(max: number): Delivery[] {
    if (this.#delayedCount > 0) this.#promoteDue(Date.now());
    const out: Delivery[] = [];
    while (out.length < max) {
      const j = this.#ready.shift();
      if (j === undefined) break;
      if (j.state !== 'ready') continue;
      this.#readyCount--;
      j.state = 'active';
      if (j.uncounted) j.uncounted = false;
      else j.attempt++;
      out.push(j);
    }
    if (out.length > 0) {
      this.#makeRoom();
      this.#depthChanged();
    }
    return out;
  }

  /**
   * waitForJobs resolves with jobs once some are ready, or with [] once the consumer calls
   * dropWaiter. The consumer watches its context itself (one afterFunc for all its waits, instead
   * of one per wait): it is told the waiter through `watched` and drops it when its context ends.
   */
  waitForJobs(ctx: Context, max: number, watched: (f: FetchWaiter) => void): Promise<Delivery[]> {
    if (this.#closed || ctx.err !== undefined) return Promise.resolve([]);
    return new Promise<Delivery[]>((resolve) => {
      const f: FetchWaiter = { ctx, max, resolve, held: ctx.deadline !== undefined };
      if (f.held) hold();
      this.#fetchWaiters.push(f);
      this.#armTimer();
      watched(f);
    });
  }

  /** dropWaiter ends a wait whose context ended: it resolves with [] unless jobs reached it first. */
  dropWaiter(f: FetchWaiter): void {
    if (!this.#fetchWaiters.remove(f)) return;
    unhold(f);
    f.resolve([]);
    this.#armTimer();
  }

  // The Delivery a consumer settles is the MemJob this binding handed it (take), found without
  // a lookup; a job another worker took since (after a hand-back) is not 'active' for this one.
  finish(d: Delivery): void {
    const j = d as MemJob;
    if (j.state === 'active') {
      j.state = 'gone';
      this.#jobs.delete(j);
    }
  }

  deadLetter(d: Delivery, error: unknown): void {
    this.finish(d);
    this.#dead.push(Object.freeze({ id: d.id, data: d.data, attempts: d.attempt, error, at: Date.now() }));
  }

  requeue(d: Delivery, delayMs: number, countAttempt: boolean): void {
    const j = d as MemJob;
    if (j.state !== 'active') return;
    // The worker may still read d.attempt: the uncounted attempt is taken back at the next take.
    if (!countAttempt) j.uncounted = true;
    const now = Date.now();
    if (delayMs > 0) {
      j.runAt = now + delayMs;
      j.readyAt = j.runAt;
      j.state = 'delayed';
      this.#delayedCount++;
      this.#delayed.push(j, j.runAt);
      this.#armTimer();
      this.#depthChanged();
    } else {
      j.readyAt = now;
      j.state = 'ready';
      this.#readyCount++;
      // A hand-back goes to the front: it was taken first and should run first.
      this.#ready.unshift(j);
      this.#depthChanged();
      this.#feed();
    }
  }

  #waiting(): number {
    return this.#readyCount + this.#delayedCount;
  }

  // leash:queue:depth follows every change of the waiting count, while someone listens.
  #depthChanged(): void {
    if (depthChannel.hasSubscribers)
      depthChannel.publish(
        Object.freeze({ queue: this.#queue, depth: this.#readyCount + this.#delayedCount }),
      );
  }

  #add(job: NewJob): void {
    const now = job.enqueuedAt;
    const j = new MemJob(job);
    this.#jobs.set(j);
    if (job.runAt !== undefined && job.runAt > now) {
      j.state = 'delayed';
      j.readyAt = job.runAt;
      this.#delayedCount++;
      this.#delayed.push(j, j.runAt); // the time #promoteDue compares with j.runAt
      this.#armTimer();
      return;
    }
    this.#readyCount++;
    this.#ready.push(j);
    this.#feed();
  }

  // #feed hands ready jobs to waiting consumers.
  #feed(): void {
    while (this.#fetchWaiters.length > 0 && this.#readyCount > 0) {
      const f = this.#fetchWaiters.shift() as FetchWaiter;
      unhold(f);
      // A consumer whose context ended (its afterFunc has not run yet) takes nothing.
      f.resolve(f.ctx.err === undefined ? this.take(f.max) : []);
    }
  }

  // #makeRoom lets waiting enqueues in, oldest first, while there is room.
  #makeRoom(): void {
    while (this.#roomWaiters.length > 0 && this.#waiting() < this.#capacity) {
      const w = this.#roomWaiters.shift() as RoomWaiter;
      w.stop();
      unhold(w);
      if (w.ctx.err !== undefined) {
        w.reject(w.ctx.err);
        continue;
      }
      if (this.#jobs.has(w.job.id)) {
        w.resolve(false);
        continue;
      }
      this.#add(w.job);
      w.resolve(true);
    }
  }

  #promoteDue(now: number): void {
    for (let top = this.#delayed.peek(); top !== undefined && top.at <= now; top = this.#delayed.peek()) {
      this.#delayed.pop();
      const j = top.value;
      if (j.state !== 'delayed' || j.runAt !== top.at) continue;
      this.#delayedCount--;
      j.state = 'ready';
      this.#readyCount++;
      this.#ready.push(j);
    }
  }

  // The delay timer runs only while a consumer waits and a delayed job exists; it keeps the
  // process alive then, as a worker that waits for a job due later should.
  #armTimer(): void {
    const top = this.#delayed.peek();
    const at = this.#fetchWaiters.length > 0 && top !== undefined ? top.at : Number.POSITIVE_INFINITY;
    if (at === this.#timerAt) return;
    this.#clearTimer();
    if (at === Number.POSITIVE_INFINITY) return;
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Number.POSITIVE_INFINITY;
        this.#promoteDue(Date.now());
        this.#feed();
        this.#armTimer();
      },
      Math.max(0, at - Date.now()),
    );
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }
}

class MemoryConsumer implements Consumer {
  readonly #b: MemoryBinding;
  #listener: ((id: string, reason: unknown) => void) | undefined;
  // One watch on the worker's context for all of this consumer's waits (a worker waits once per
  // job when it keeps up with its producer), rather than an afterFunc per wait.
  #ctx: Context | undefined;
  #stopWatch: (() => boolean) | undefined;
  #waiter: FetchWaiter | undefined;
  readonly #setWaiter = (f: FetchWaiter): void => {
    this.#waiter = f;
  };
  constructor(b: MemoryBinding) {
    this.#b = b;
  }
  tryFetch(max: number): Delivery[] {
    return this.#b.take(max);
  }
  fetch(ctx: Context, max: number): Promise<Delivery[]> {
    const now = this.#b.take(max);
    if (now.length > 0) return Promise.resolve(now);
    if (this.#ctx !== ctx) {
      this.#stopWatch?.();
      this.#ctx = ctx;
      this.#stopWatch = afterFunc(ctx, () => {
        const f = this.#waiter;
        this.#waiter = undefined;
        if (f !== undefined) this.#b.dropWaiter(f);
      });
    }
    return this.#b.waitForJobs(ctx, max, this.#setWaiter);
  }
  complete(d: Delivery): void {
    this.#b.finish(d);
  }
  cancelled(d: Delivery): void {
    this.#b.finish(d);
  }
  retry(d: Delivery, delayMs: number): void {
    this.#b.requeue(d, delayMs, true);
  }
  deadLetter(d: Delivery, error: unknown): void {
    this.#b.deadLetter(d, error);
  }
  handBack(d: Delivery): void {
    this.#b.requeue(d, 0, false);
  }
  onCancel(listener: (id: string, reason: unknown) => void): void {
    if (this.#listener) this.#b.removeListener(this.#listener);
    this.#listener = listener;
    this.#b.addListener(listener);
  }
  async close(): Promise<void> {
    if (this.#listener) this.#b.removeListener(this.#listener);
    this.#listener = undefined;
    this.#stopWatch?.();
    this.#stopWatch = undefined;
    const f = this.#waiter;
    this.#waiter = undefined;
    if (f !== undefined) this.#b.dropWaiter(f);
  }
}
