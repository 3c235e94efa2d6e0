// createQueue: the producer side (enqueue, cancel, depth) and the factory of workers.
import { randomUUID } from 'node:crypto';
import type { Context } from '../context/index.js';
import {
  assertContext,
  assertFunction,
  assertNumber,
  assertOptions,
  describe,
  invalidArg,
  readOption,
} from '../context/internal.js';
import type { Backoff } from '../resilience/index.js';
import type { Backend, Binding, DeadLetter } from './backend.js';
import { describeReason, QueueClosedError } from './errors.js';
import { cancelChannel, depthChannel, enqueueChannel, publish } from './events.js';
import { memoryBackend } from './memory-backend.js';
import { type Handler, Worker, type WorkOptions } from './worker.js';

/** QueueOptions configure createQueue(). */
export interface QueueOptions {
  /** name identifies the queue: in events, task names and (Redis) keys. 1-200 characters, no `{` or `}`. */
  readonly name: string;
  /** backend says where jobs live: memoryBackend() (default) or redisStreams({ redis }). */
  readonly backend?: Backend;
  /**
   * onStoreError is told about a failure of the store while a worker settles a job (an ack that did
   * not reach Redis: the job is then reclaimed and run again) or closes. Default: a process
   * warning, at most one per second.
   */
  readonly onStoreError?: (err: unknown) => void;
}

/** EnqueueOptions configure one queue.enqueue(). */
export interface EnqueueOptions {
  /** id makes enqueue idempotent: a job with a known id is not added again. Default: a random UUID. 1-512 characters. */
  readonly id?: string;
  /** deadlineMs is the job's whole budget from now, carried with the job: its context ends then, and a job that cannot start in time is dead-lettered. */
  readonly deadlineMs?: number;
  /** delayMs holds the job back for this long before any worker may start it. Default 0. */
  readonly delayMs?: number;
}

/** Queue is a work queue; make one with createQueue(). */
export interface Queue<J> {
  readonly name: string;
  /**
   * enqueue adds a job and resolves with its id once stored, waiting for room (backpressure) until
   * ctx ends, then rejecting with ctx.err. With an `id` already known to the queue, it adds
   * nothing and resolves with that id. `job` must be a JSON value on every backend (Redis stores
   * it as JSON): undefined, a function, a symbol, a BigInt or a cycle rejects with
   * LEASH_ERR_INVALID_ARG before anything is stored; use null for a job without data.
   */
  enqueue(ctx: Context, job: J, opts?: EnqueueOptions): Promise<string>;
  /**
   * cancel ends job `id` from any process: a queued or delayed job never starts; a running job's
   * context ends (cause JobCancelledError with `reason`) and it is not retried. Resolves true when
   * the job was found waiting or running, false when unknown or already finished.
   */
  cancel(id: string, reason?: unknown): Promise<boolean>;
  /** work starts a worker that runs jobs under `ctx` until ctx ends or worker.drain(). */
  work(ctx: Context, handler: Handler<J>, opts: WorkOptions): Worker;
  /** depth is the number of jobs waiting to start (ready and delayed). */
  depth(): Promise<number>;
  /** deadLetters lists jobs that will not run again, oldest first, up to `count` (default 100). */
  deadLetters(count?: number): Promise<DeadLetter[]>;
  /**
   * close stops the queue: enqueue and work reject with QueueClosedError afterwards, waiting
   * enqueues reject, live workers are drained with `drainMs` (default 0: their running jobs are
   * cancelled and handed back), and the backend's connections it opened are closed (never the
   * Redis client you passed).
   */
  close(drainMs?: number): Promise<void>;
}

/**
 * createQueue makes a work queue: enqueue jobs from anywhere, run them in workers under their own
 * contexts, cancel any of them from any process, drain workers without losing a job.
 *
 * @example
 * const q = createQueue<{ to: string }>({ name: 'emails', backend: memoryBackend({ capacity: 1000 }) });
 * const worker = q.work(background(), async (ctx, job) => { await send(ctx, job.to); }, { concurrency: 8 });
 * await q.enqueue(ctx, { to: 'a@example.com' }, { deadlineMs: 60_000 });
 */
export function createQueue<J>(options: QueueOptions): Queue<J> {
  const where = 'createQueue(options)';
  if (options === undefined) throw invalidArg(`${where}: options are required, such as { name: 'emails' }`);
  const o = assertOptions(options, where, ['name', 'backend', 'onStoreError']);
  const name = readOption(o, 'name', where);
  if (typeof name !== 'string' || name.length === 0 || name.length > 200 || /[{}\r\n]/.test(name))
    throw invalidArg(
      `${where}: name must be a string of 1-200 characters without { } or newlines, got ${describe(name)}`,
    );
  let backend = readOption(o, 'backend', where);
  if (backend === undefined) backend = memoryBackend();
  else if (
    typeof backend !== 'object' ||
    backend === null ||
    typeof (backend as Backend).bind !== 'function' ||
    ((backend as Backend).kind !== 'memory' && (backend as Backend).kind !== 'redis')
  )
    throw invalidArg(
      `${where}: backend must come from memoryBackend() or redisStreams(), got ${describe(backend)}`,
    );
  const onStoreError = readOption(o, 'onStoreError', where);
  if (onStoreError !== undefined) assertFunction(onStoreError, where, 'onStoreError');
  return new QueueImpl<J>(name, backend.bind(name), onStoreError ?? warnStoreError);
}

let lastWarning = 0;
function warnStoreError(err: unknown): void {
  const now = Date.now();
  if (now - lastWarning < 1000) return;
  lastWarning = now;
  process.emitWarning(
    `leashjs/queue: a store operation failed while settling a job (it will be reclaimed and run again): ${describeReason(err)}`,
    { code: 'LEASH_QUEUE_STORE_ERROR' },
  );
}

/**
 * jobJSON checks a job for enqueue and returns it as JSON text: the one check of job data, made
 * before any backend sees the job, so that every backend accepts and refuses the same jobs (the
 * Redis backend stores this text; the memory backend keeps the job itself). A job JSON cannot
 * carry is refused with LEASH_ERR_INVALID_ARG: one that JSON.stringify throws on (a BigInt, a
 * cycle, a toJSON that throws), and undefined, a function or a symbol, which it turns into nothing
 * (a Redis queue would have run the job with null instead).
 */
function jobJSON(job: unknown, where: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(job);
  } catch (cause) {
    throw Object.assign(
      invalidArg(
        `${where}: job must be JSON-serialisable (jobs are stored as JSON on Redis, and every backend checks them the same way), but JSON.stringify refused it (${firstLine(describeReason(cause))}); convert BigInts to strings or numbers and remove cycles`,
      ),
      { cause },
    );
  }
  if (text === undefined)
    throw invalidArg(
      `${where}: job must be a JSON value (an object, array, string, number, boolean or null), got ${describe(job)}; pass the data the handler needs, or null for a job without data`,
    );
  return text;
}

// V8's message for a cycle goes on over several lines, drawing the circle; one line is enough here.
function firstLine(s: string): string {
  const end = s.indexOf('\n');
  return end === -1 ? s : s.slice(0, end);
}

const ENQUEUE_OPTIONS = ['id', 'deadlineMs', 'delayMs'];
const WORK_OPTIONS = ['concurrency', 'retries', 'backoff', 'timeoutMs', 'name'];

class QueueImpl<J> implements Queue<J> {
  readonly name: string;
  readonly #b: Binding;
  readonly #onStoreError: (err: unknown) => void;
  readonly #workers = new Set<Worker>();
  #closed = false;

  constructor(name: string, binding: Binding, onStoreError: (err: unknown) => void) {
    this.name = name;
    this.#b = binding;
    this.#onStoreError = onStoreError;
  }

  enqueue(ctx: Context, job: J, opts?: EnqueueOptions): Promise<string> {
    try {
      return this.#enqueue(ctx, job, opts);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #enqueue(ctx: Context, job: J, opts: EnqueueOptions | undefined): Promise<string> {
    const where = 'queue.enqueue(ctx, job, opts)';
    assertContext(ctx, where);
    const json = jobJSON(job, where);
    let id: string | undefined;
    let deadline: number | undefined;
    let runAt: number | undefined;
    const now = Date.now();
    if (opts !== undefined) {
      const o = assertOptions(opts, where, ENQUEUE_OPTIONS);
      id = readOption(o, 'id', where);
      if (id !== undefined && (typeof id !== 'string' || id.length === 0 || id.length > 512))
        throw invalidArg(`${where}: id must be a string of 1-512 characters, got ${describe(id)}`);
      const deadlineMs = readOption(o, 'deadlineMs', where);
      if (deadlineMs !== undefined) {
        assertNumber(deadlineMs, where, 'deadlineMs', { min: 1, unit: 'milliseconds' });
        deadline = now + deadlineMs;
      }
      const delayMs = readOption(o, 'delayMs', where);
      if (delayMs !== undefined) {
        assertNumber(delayMs, where, 'delayMs', { min: 0, unit: 'milliseconds' });
        if (delayMs > 0) runAt = now + delayMs;
      }
      if (deadline !== undefined && runAt !== undefined && runAt >= deadline)
        throw invalidArg(
          `${where}: delayMs (${delayMs}) must be shorter than deadlineMs (${deadlineMs}), or the job could never run`,
        );
    }
    if (this.#closed) return Promise.reject(new QueueClosedError(this.name, 'enqueue'));
    // A memory queue makes ids unique in itself (cheaper than a UUID); Redis ones must be unique everywhere.
    id ??= this.#b.newId?.() ?? randomUUID();
    const record = { id, data: job, json, deadline, runAt, enqueuedAt: now };
    // The memory backend stores at once when there is room: no promise but the one returned.
    const stored = this.#b.tryEnqueue?.(ctx, record);
    if (stored !== undefined) {
      if (stored) this.#enqueued(id);
      return Promise.resolve(id);
    }
    return this.#b.enqueue(ctx, record).then((added) => {
      if (added) this.#enqueued(id as string);
      return id as string;
    });
  }

  #enqueued(id: string): void {
    if (!enqueueChannel.hasSubscribers && !depthChannel.hasSubscribers) return;
    const depth = this.#b.depthNow?.() ?? -1;
    publish(enqueueChannel, () => ({ queue: this.name, id, depth }));
    if (depth >= 0) publish(depthChannel, () => ({ queue: this.name, depth }));
  }

  async cancel(id: string, reason?: unknown): Promise<boolean> {
    if (typeof id !== 'string' || id.length === 0)
      throw invalidArg(`queue.cancel(id, reason): id must be a non-empty string, got ${describe(id)}`);
    const found = await this.#b.cancel(id, reason);
    if (found === 'queued') publish(cancelChannel, () => ({ queue: this.name, id, running: false }));
    return found !== undefined;
  }

  work(ctx: Context, handler: Handler<J>, opts: WorkOptions): Worker {
    const where = 'queue.work(ctx, handler, opts)';
    assertContext(ctx, where);
    assertFunction(handler, where, 'handler');
    if (opts === undefined) throw invalidArg(`${where}: opts are required, such as { concurrency: 8 }`);
    const o = assertOptions(opts, where, WORK_OPTIONS);
    const concurrency = readOption(o, 'concurrency', where);
    assertNumber(concurrency, where, 'concurrency', { min: 1, integer: true });
    let retries = readOption(o, 'retries', where);
    // Only a missing option means the default: null is checked, and refused, like any non-number.
    if (retries === undefined) retries = 0;
    assertNumber(retries, where, 'retries', { min: 0, integer: true });
    const backoff = readOption(o, 'backoff', where) as Backoff | undefined;
    if (
      backoff !== undefined &&
      (typeof backoff !== 'object' || backoff === null || typeof backoff.delayMs !== 'function')
    )
      throw invalidArg(
        `${where}: backoff must come from constantBackoff() or exponentialBackoff() (an object with delayMs), got ${describe(backoff)}`,
      );
    const timeoutMs = readOption(o, 'timeoutMs', where);
    if (timeoutMs !== undefined)
      assertNumber(timeoutMs, where, 'timeoutMs', { min: 1, unit: 'milliseconds' });
    const name = readOption(o, 'name', where);
    if (name !== undefined && typeof name !== 'string')
      throw invalidArg(`${where}: name must be a string, got ${describe(name)}`);
    if (this.#closed) throw new QueueClosedError(this.name, 'work');
    const w = new Worker(
      ctx,
      this.name,
      this.#b.consumer(),
      handler as (ctx: Context, job: unknown) => unknown,
      {
        concurrency,
        retries,
        backoff,
        timeoutMs,
        name,
        onStoreError: this.#onStoreError,
      },
    );
    this.#workers.add(w);
    w.done.then(() => this.#workers.delete(w));
    return w;
  }

  depth(): Promise<number> {
    return this.#b.depth();
  }

  async deadLetters(count = 100): Promise<DeadLetter[]> {
    assertNumber(count, 'queue.deadLetters(count)', 'count', { min: 1, integer: true });
    return this.#b.deadLetters(count);
  }

  async close(drainMs = 0): Promise<void> {
    assertNumber(drainMs, 'queue.close(drainMs)', 'drainMs', { min: 0, unit: 'milliseconds' });
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#workers].map((w) => w.drain(drainMs)));
    await this.#b.close();
  }
}
