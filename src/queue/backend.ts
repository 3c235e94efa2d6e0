// The seam between a Queue and where its jobs live. A Backend is what `memoryBackend()` and
// `redisStreams()` return; `createQueue` binds it to one queue name. The worker logic (contexts,
// retries, drain, events) is written once, against this interface.
import type { Context } from '../context/index.js';

/** NewJob is a job as enqueue hands it to the store. Times are epoch ms (Date.now()). */
export interface NewJob {
  readonly id: string;
  /** data is the job as the caller passed it (the memory backend keeps it as it is). */
  readonly data: unknown;
  /** json is `data` as JSON text, checked by enqueue before any backend sees the job (Redis stores it). */
  readonly json: string;
  /** deadline is when the job's budget ends, carried with the job; undefined for none. */
  readonly deadline: number | undefined;
  /** runAt is when the job may start (delayed jobs); undefined to start at once. */
  readonly runAt: number | undefined;
  readonly enqueuedAt: number;
}

/** Delivery is one job handed to a consumer for one attempt. */
export interface Delivery {
  readonly id: string;
  readonly data: unknown;
  /** attempt counts attempts including this one (1 for the first). */
  readonly attempt: number;
  /** readyAt is when the job became ready to run (enqueue, end of a delay, hand-back). */
  readonly readyAt: number;
  readonly deadline: number | undefined;
  /** reclaimed is true when the job was taken over from a consumer that stopped answering. */
  readonly reclaimed: boolean;
}

/** Consumer is one worker's connection to the store. Settling methods are called once per delivery. */
export interface Consumer {
  /** tryFetch takes up to `max` ready jobs without waiting, when the store can do it synchronously. */
  tryFetch?(max: number): Delivery[];
  /** fetch waits until at least one job is ready or `ctx` ends (then resolves with []). */
  fetch(ctx: Context, max: number): Promise<Delivery[]>;
  /**
   * takeBack returns the jobs the consumer fetched ahead and has not handed over, once the worker
   * stops taking jobs; the worker hands them back (and lists them in its drain report).
   */
  takeBack?(): Promise<Delivery[]>;
  complete(d: Delivery): void | Promise<void>;
  /** cancelled settles a job ended by queue.cancel(): it never runs again. */
  cancelled(d: Delivery): void | Promise<void>;
  retry(d: Delivery, delayMs: number): void | Promise<void>;
  deadLetter(d: Delivery, error: unknown): void | Promise<void>;
  /** handBack returns the job unacknowledged, to run again at once, without counting this attempt. */
  handBack(d: Delivery): void | Promise<void>;
  /** onCancel registers the one listener told when queue.cancel(id) reaches a job this consumer may run. */
  onCancel(listener: (id: string, reason: unknown) => void): void;
  close(): Promise<void>;
}

/** Binding is a backend bound to one queue name. */
export interface Binding {
  /** enqueue stores the job, waiting for room until ctx ends; false when a job with this id is already known. */
  enqueue(ctx: Context, job: NewJob): Promise<boolean>;
  /** newId makes a job id unique in this store when the user gives none; without it, a UUID. */
  newId?(): string;
  /** tryEnqueue stores the job without waiting when it can decide at once (true added, false known id); undefined: call enqueue. */
  tryEnqueue?(ctx: Context, job: NewJob): boolean | undefined;
  /** cancel ends a queued or running job: 'queued' or 'running' when found, undefined when unknown or finished. */
  cancel(id: string, reason: unknown): Promise<'queued' | 'running' | undefined>;
  /** depth is the number of jobs waiting to start (ready and delayed). */
  depth(): Promise<number>;
  /** depthNow is depth without a round trip, when the store keeps it in this process (memory). */
  depthNow?(): number;
  /** deadLetters lists up to `count` dead-lettered jobs, oldest first. */
  deadLetters(count: number): Promise<DeadLetter[]>;
  consumer(): Consumer;
  close(): Promise<void>;
}

/**
 * DeadLetter is a job that will not run again, with the error of its last attempt: the error
 * itself in memory; `{ name, message, code? }` from Redis, where it was stored as JSON.
 */
export interface DeadLetter {
  readonly id: string;
  readonly data: unknown;
  readonly attempts: number;
  readonly error: unknown;
  /** at is when it was dead-lettered (epoch ms). */
  readonly at: number;
}

/**
 * Backend says where a queue's jobs live: `memoryBackend()` (one process) or `redisStreams()`
 * (many processes). Pass it to `createQueue`; do not call `bind` yourself.
 */
export interface Backend {
  readonly kind: 'memory' | 'redis';
  /** @internal Called once by createQueue. */
  bind(queue: string): Binding;
}
