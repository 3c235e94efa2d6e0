// Diagnostics for leashjs/queue, on node:diagnostics_channel, for observers (metrics, tracing) that
// must not be imported here. Nothing is built or published when nobody listens: the cost is one
// property read per event. Every payload is a new frozen plain object (docs/diagnostics.md).
import diagnostics_channel from 'node:diagnostics_channel';

/** QueueEnqueueEvent is the payload of `leash:queue:enqueue`: a new job was accepted. */
export interface QueueEnqueueEvent {
  readonly queue: string;
  readonly id: string;
  /** depth is the number of jobs waiting (ready and delayed) in this process's view after the enqueue; -1 when the store does not report it cheaply (Redis). */
  readonly depth: number;
}

/** QueueStartEvent is the payload of `leash:queue:start`: a worker started an attempt. */
export interface QueueStartEvent {
  readonly queue: string;
  readonly id: string;
  /** attempt counts attempts, the first is 1. */
  readonly attempt: number;
  /** waitMs is the time from enqueue (or from the end of a retry's delay) to this start. */
  readonly waitMs: number;
}

/** JobOutcome is how an attempt ended. */
export type JobOutcome = 'completed' | 'failed' | 'cancelled' | 'handed-back';

/** QueueFinishEvent is the payload of `leash:queue:finish`: an attempt settled. */
export interface QueueFinishEvent {
  readonly queue: string;
  readonly id: string;
  readonly attempt: number;
  readonly outcome: JobOutcome;
  readonly runMs: number;
}

/** QueueRetryEvent is the payload of `leash:queue:retry`: a failed attempt will run again after `delayMs`. */
export interface QueueRetryEvent {
  readonly queue: string;
  readonly id: string;
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: unknown;
}

/** QueueDeadLetterEvent is the payload of `leash:queue:dead-letter`: a job will not run again. */
export interface QueueDeadLetterEvent {
  readonly queue: string;
  readonly id: string;
  readonly attempts: number;
  readonly error: unknown;
}

/** QueueCancelEvent is the payload of `leash:queue:cancel`: queue.cancel(id) found the job; `running` says whether it had started. */
export interface QueueCancelEvent {
  readonly queue: string;
  readonly id: string;
  readonly running: boolean;
}

/** QueueDepthEvent is the payload of `leash:queue:depth`: the number of jobs waiting changed (memory) or was read (Redis, once per poll). */
export interface QueueDepthEvent {
  readonly queue: string;
  readonly depth: number;
}

export const enqueueChannel = diagnostics_channel.channel('leash:queue:enqueue');
export const startChannel = diagnostics_channel.channel('leash:queue:start');
export const finishChannel = diagnostics_channel.channel('leash:queue:finish');
export const retryChannel = diagnostics_channel.channel('leash:queue:retry');
export const deadLetterChannel = diagnostics_channel.channel('leash:queue:dead-letter');
export const cancelChannel = diagnostics_channel.channel('leash:queue:cancel');
export const depthChannel = diagnostics_channel.channel('leash:queue:depth');

/** publish sends a frozen payload, built only when someone listens. */
export function publish<T extends object>(ch: diagnostics_channel.Channel, make: () => T): void {
  if (ch.hasSubscribers) ch.publish(Object.freeze(make()));
}
