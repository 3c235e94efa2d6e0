// leashjs/queue: work queues for peak shaving. Jobs run in workers under their own contexts (the
// worker's, the job's deadline carried with it, remote cancel from any process); workers drain
// without losing a job. In memory (one process) or on Redis Streams (many). See docs/queue.md.
export type { Backend, DeadLetter } from './backend.js';
export {
  DrainDeadlineError,
  JobCancelledError,
  JobDeadlineError,
  QueueClosedError,
  QueueStoreError,
} from './errors.js';
export type {
  JobOutcome,
  QueueCancelEvent,
  QueueDeadLetterEvent,
  QueueDepthEvent,
  QueueEnqueueEvent,
  QueueFinishEvent,
  QueueRetryEvent,
  QueueStartEvent,
} from './events.js';
export { type MemoryBackendOptions, memoryBackend } from './memory-backend.js';
export { createQueue, type EnqueueOptions, type Queue, type QueueOptions } from './queue.js';
export {
  type RedisClient,
  type RedisConnection,
  type RedisStreamsOptions,
  redisStreams,
} from './redis-streams.js';
export type { DrainReport, Handler, Worker, WorkerStats, WorkOptions } from './worker.js';
