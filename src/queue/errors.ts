// The errors leashjs/queue uses. Each has a stable code and says what to do next.

/**
 * JobCancelledError is the cancellation cause of a running job's context (read it with
 * `cause(ctx)`) after `queue.cancel(id, reason)` from any process: the handler's `ctx.err` is a
 * CanceledError and the job is not retried. `reason` is what the canceller passed, if anything.
 */
export class JobCancelledError extends Error {
  /** code is stable across releases: `'LEASH_ERR_JOB_CANCELLED'`. */
  readonly code = 'LEASH_ERR_JOB_CANCELLED';
  readonly queue: string;
  readonly id: string;
  readonly reason: unknown;
  constructor(queue: string, id: string, reason?: unknown) {
    super(
      `${queue}: job ${JSON.stringify(id)} was cancelled by queue.cancel()${reason === undefined ? '' : `: ${describeReason(reason)}`}`,
      { cause: reason },
    );
    this.name = 'JobCancelledError';
    this.queue = queue;
    this.id = id;
    this.reason = reason;
  }
}

/**
 * DrainDeadlineError is the cancellation cause of a running job's context when `worker.drain(ms)`
 * reached its deadline before the job settled. The job is handed back to the queue
 * unacknowledged, so another worker runs it again; it is not counted as a failed attempt.
 */
export class DrainDeadlineError extends Error {
  /** code is stable across releases: `'LEASH_ERR_DRAIN_DEADLINE'`. */
  readonly code = 'LEASH_ERR_DRAIN_DEADLINE';
  readonly queue: string;
  readonly drainMs: number;
  constructor(queue: string, drainMs: number) {
    super(
      `${queue}: the worker's drain deadline (${drainMs} ms) passed before this job settled; it is handed back to the queue to run again`,
    );
    this.name = 'DrainDeadlineError';
    this.queue = queue;
    this.drainMs = drainMs;
  }
}

/**
 * JobDeadlineError is the error a job is dead-lettered with when its deadline (enqueue option
 * `deadlineMs`, carried in the job) passed before it could run or while it ran: another attempt
 * could not finish in its budget, so it is not retried. Raise `deadlineMs`, or add workers.
 */
export class JobDeadlineError extends Error {
  /** code is stable across releases: `'LEASH_ERR_JOB_DEADLINE'`. */
  readonly code = 'LEASH_ERR_JOB_DEADLINE';
  readonly queue: string;
  readonly id: string;
  constructor(queue: string, id: string, started: boolean, cause?: unknown) {
    super(
      `${queue}: job ${JSON.stringify(id)} reached its deadline ${started ? 'while it ran' : 'before a worker could start it'}; it is dead-lettered, not retried (raise deadlineMs or add workers)`,
      { cause },
    );
    this.name = 'JobDeadlineError';
    this.queue = queue;
    this.id = id;
  }
}

/**
 * QueueClosedError is the rejection of `enqueue` and `work` on a queue after `queue.close()`, and
 * of an enqueue still waiting for room when the queue closed.
 */
export class QueueClosedError extends Error {
  /** code is stable across releases: `'LEASH_ERR_QUEUE_CLOSED'`. */
  readonly code = 'LEASH_ERR_QUEUE_CLOSED';
  constructor(queue: string, op: string) {
    super(`${queue}: ${op} after queue.close(); create a new queue to go on`);
    this.name = 'QueueClosedError';
  }
}

/**
 * QueueStoreError wraps a failure of the queue's store (Redis) in an operation the caller waits
 * for (`enqueue`, `cancel`). The store's own error is the `cause`.
 */
export class QueueStoreError extends Error {
  /** code is stable across releases: `'LEASH_ERR_QUEUE_STORE'`. */
  readonly code = 'LEASH_ERR_QUEUE_STORE';
  constructor(queue: string, op: string, cause: unknown) {
    super(`${queue}: ${op} failed in the queue's store: ${describeReason(cause)}`, { cause });
    this.name = 'QueueStoreError';
  }
}

/** describeReason renders a cancel reason or a store error in one short line. */
export function describeReason(v: unknown): string {
  if (v instanceof Error) return v.message;
  if (typeof v === 'string') return v.length > 200 ? `${v.slice(0, 200)}...` : v;
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 200 ? `${s.slice(0, 200)}...` : s;
  } catch {
    return Object.prototype.toString.call(v);
  }
}
