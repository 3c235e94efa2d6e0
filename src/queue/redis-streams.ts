// The Redis Streams backend: one stream per queue, a consumer group of workers across processes
// and machines, acknowledgement after success, reclaim (XAUTOCLAIM) of a stopped consumer's jobs,
// delayed jobs and retries in a sorted set, a dead-letter stream, and cancel from any process
// through pub/sub. Works on Redis Cluster: every key carries the queue's hash tag.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { abortable, afterFunc, type Context, sleep } from '../context/index.js';
import {
  assertNumber,
  assertOptions,
  describe,
  evalScript,
  invalidArg,
  readOption,
} from '../context/internal.js';
import { type Backoff, exponentialBackoff } from '../resilience/index.js';
import type { Backend, Binding, Consumer, DeadLetter, Delivery, NewJob } from './backend.js';
import { describeReason, QueueClosedError, QueueStoreError } from './errors.js';
import { cancelChannel, depthChannel, publish } from './events.js';
import { ADOPT, CANCEL, DEPTH, ENQUEUE, FETCH, HEARTBEAT, SETTLE, START_ENTRIES } from './redis-scripts.js';

// How long a cancel notice for a job this consumer does not hold is kept, should the job arrive.
const UNMATCHED_MS = 5000;

// A settlement call that failed is sent again after 100 ms, doubling to 2 s, for visibilityMs.
const SETTLE_RETRY_MS = 100;
const SETTLE_RETRY_MAX_MS = 2000;

// How long a stopping worker waits for each call in flight before it lets go (a store that does
// not answer): what such a call took is reclaimed after visibilityMs.
const STOP_WAIT_MS = 1000;

// How many entries pending to a consumer and not held by it one ADOPT call takes over.
const ADOPT_BATCH = 500;

// Connection drops seen on each client a queue was given, counted by one 'close' listener per
// client however many workers share it, removed when the last of them closes. A drop while a fetch
// was in flight may have lost its reply even when ioredis sent the command again and the second
// reply came.
interface Drops {
  n: number;
  users: number;
  off(): void;
}
type Emitter = {
  on?: (event: string, listener: () => void) => unknown;
  removeListener?: (event: string, listener: () => void) => unknown;
};
const drops = new WeakMap<object, Drops>();
function watchDrops(conn: RedisClient): Drops {
  let d = drops.get(conn);
  if (d === undefined) {
    const e = conn as Emitter;
    const counter: Drops = { n: 0, users: 0, off: () => e.removeListener?.call(conn, 'close', onClose) };
    const onClose = (): void => {
      counter.n++;
    };
    e.on?.call(conn, 'close', onClose);
    d = counter;
    drops.set(conn, counter);
  }
  d.users++;
  return d;
}
function unwatchDrops(conn: RedisClient, d: Drops): void {
  if (--d.users > 0) return;
  d.off();
  drops.delete(conn);
}

// A full stream is polled for room: 5 ms doubling to 200 ms, until the caller's context ends.
const ROOM_POLL: Backoff = exponentialBackoff({ initialMs: 5, maxMs: 200, jitter: 'none' });

/**
 * RedisClient is the part of an ioredis client (Redis or Cluster) the backend uses; pass the
 * client itself. It is never closed by leash: the connections leash opens with `duplicate()`
 * (one per worker for blocking reads, one per queue for cancel messages) are.
 */
export interface RedisClient {
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  duplicate(): RedisConnection;
}

/** RedisConnection is a connection leash opened with duplicate(): it subscribes, blocks and is closed by leash. */
export interface RedisConnection extends RedisClient {
  /** ioredis's connection status: 'ready' once commands can be sent. */
  readonly status: string;
  subscribe(...channels: string[]): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  once(event: 'ready', listener: () => void): unknown;
  removeListener(event: 'ready', listener: () => void): unknown;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** RedisStreamsOptions configure redisStreams(). */
export interface RedisStreamsOptions {
  /** redis is an ioredis client or cluster. Required. */
  readonly redis: RedisClient;
  /** stream is the stream's key; it must contain a hash tag such as `{emails}`. Default `leash:queue:{<name>}`. The other keys add suffixes. */
  readonly stream?: string;
  /** group is the consumer group of the workers. Default 'workers'. */
  readonly group?: string;
  /** capacity bounds the jobs stored (waiting, delayed and running); enqueue waits for room. 0 for none. Default 0. */
  readonly capacity?: number;
  /** visibilityMs: a running job whose worker has not been heard from for this long is reclaimed by another. Workers renew every visibilityMs/3. Default 30000. */
  readonly visibilityMs?: number;
  /** blockMs is the longest one blocking read waits before checking delayed jobs and reclaims again. Default 1000. */
  readonly blockMs?: number;
  /** retainMs keeps a finished job's id (completed, cancelled, dead) so an enqueue with that id is still deduplicated. Default 86400000 (one day). */
  readonly retainMs?: number;
  /**
   * prefetch lets a worker fetch jobs ahead while it runs others, once a fetch came back full (a
   * backlog), so that Redis works on the next jobs meanwhile: up to `prefetch` x the worker's
   * `concurrency` jobs, in one script call, fetched again when fewer than `concurrency` are left.
   * A job fetched ahead is taken by this worker: `queue.cancel` finds it running, and a worker that
   * crashes leaves it to be reclaimed like a running job. A cancel that reaches it before it
   * starts ends it without running it; a worker that stops hands such jobs back without counting
   * an attempt, and lists them in `drain()`'s report. Jobs a fetch took whose reply a network cut
   * lost are taken over at the worker's next fetch. 0 turns it off: with long jobs and several
   * workers, a job then never waits behind one worker while another is idle. An integer from 0 to
   * 100; default 4.
   */
  readonly prefetch?: number;
}

/**
 * redisStreams keeps a queue's jobs in a Redis stream, shared by workers in any number of
 * processes: at-least-once delivery with acknowledgement after success; a crashed worker's jobs
 * are reclaimed after `visibilityMs` and finished once; retries wait in a sorted set; dead letters
 * go to `<stream>:dead`; `queue.cancel(id)` reaches the running job in whichever process runs it.
 * Job data is stored as JSON (enqueue refuses, on every backend, a job JSON cannot carry).
 *
 * @example
 * const q = createQueue<{ orderId: string }>({ name: 'orders', backend: redisStreams({ redis: new Redis() }) });
 */
export function redisStreams(options: RedisStreamsOptions): Backend {
  const where = 'redisStreams(options)';
  if (options === undefined)
    throw invalidArg(`${where}: options are required, such as { redis: new Redis() }`);
  const o = assertOptions(options, where, [
    'redis',
    'stream',
    'group',
    'capacity',
    'visibilityMs',
    'blockMs',
    'retainMs',
    'prefetch',
  ]);
  const redis = readOption(o, 'redis', where);
  const r = redis as Partial<RedisClient> | null | undefined;
  if (
    typeof r !== 'object' ||
    r === null ||
    typeof r.evalsha !== 'function' ||
    typeof r.eval !== 'function' ||
    typeof r.call !== 'function' ||
    typeof r.duplicate !== 'function'
  )
    throw invalidArg(
      `${where}: redis must be an ioredis client or cluster (evalsha, eval, call, duplicate), got ${describe(redis)}`,
    );
  const stream = readOption(o, 'stream', where);
  if (stream !== undefined && (typeof stream !== 'string' || !/\{[^{}]+\}/.test(stream)))
    throw invalidArg(
      `${where}: stream must be a key with a hash tag such as "jobs:{emails}", so every key of the queue lands in one Redis Cluster slot; got ${describe(stream)}`,
    );
  let group = readOption(o, 'group', where);
  // Only a missing option means its default: null is checked, and refused, like any wrong type.
  if (group === undefined) group = 'workers';
  if (typeof group !== 'string' || group.length === 0)
    throw invalidArg(`${where}: group must be a non-empty string, got ${describe(group)}`);
  let capacity = readOption(o, 'capacity', where);
  if (capacity === undefined) capacity = 0;
  assertNumber(capacity, where, 'capacity', { min: 0, integer: true });
  let visibilityMs = readOption(o, 'visibilityMs', where);
  if (visibilityMs === undefined) visibilityMs = 30_000;
  assertNumber(visibilityMs, where, 'visibilityMs', { min: 30, unit: 'milliseconds' });
  let blockMs = readOption(o, 'blockMs', where);
  if (blockMs === undefined) blockMs = 1000;
  assertNumber(blockMs, where, 'blockMs', { min: 1, integer: true, unit: 'milliseconds' });
  let retainMs = readOption(o, 'retainMs', where);
  if (retainMs === undefined) retainMs = 86_400_000;
  assertNumber(retainMs, where, 'retainMs', { min: 1, integer: true, unit: 'milliseconds' });
  let prefetch = readOption(o, 'prefetch', where);
  if (prefetch === undefined) prefetch = 4;
  assertNumber(prefetch, where, 'prefetch', { min: 0, max: 100, integer: true });
  const cfg = {
    redis: redis as RedisClient,
    stream,
    group,
    capacity,
    visibilityMs,
    blockMs,
    retainMs,
    prefetch,
  };
  return Object.freeze({ kind: 'redis' as const, bind: (queue: string) => new RedisBinding(queue, cfg) });
}

interface Config {
  readonly redis: RedisClient;
  readonly stream: string | undefined;
  readonly group: string;
  readonly capacity: number;
  readonly visibilityMs: number;
  readonly blockMs: number;
  readonly retainMs: number;
  readonly prefetch: number;
}

interface Keys {
  readonly stream: string;
  readonly delayed: string;
  readonly dead: string;
  readonly jobPrefix: string;
  readonly cancelChannel: string;
}

class RedisBinding implements Binding {
  readonly #queue: string;
  readonly #cfg: Config;
  readonly keys: Keys;
  #group: Promise<void> | undefined;
  #sub: RedisConnection | undefined;
  #subReady: Promise<unknown> | undefined;
  readonly #listeners = new Set<(id: string, reason: unknown) => void>();
  readonly #consumers = new Set<RedisConsumer>();
  #closed = false;

  constructor(queue: string, cfg: Config) {
    this.#queue = queue;
    this.#cfg = cfg;
    const base = cfg.stream ?? `leash:queue:{${queue}}`;
    this.keys = {
      stream: base,
      delayed: `${base}:delayed`,
      dead: `${base}:dead`,
      jobPrefix: `${base}:job:`,
      cancelChannel: `${base}:cancel`,
    };
  }

  get cfg(): Config {
    return this.#cfg;
  }
  get queue(): string {
    return this.#queue;
  }

  async enqueue(ctx: Context, job: NewJob): Promise<boolean> {
    if (this.#closed) throw new QueueClosedError(this.#queue, 'enqueue');
    if (ctx.err !== undefined) throw ctx.err;
    const k = this.keys;
    const args = [job.id, job.json, job.deadline ?? '', job.runAt ?? '', job.enqueuedAt, this.#cfg.capacity];
    for (let attempt = 1; ; attempt++) {
      let res: unknown;
      try {
        res = await abortable(
          ctx,
          evalScript(this.#cfg.redis, ENQUEUE, [k.jobPrefix + job.id, k.stream, k.delayed], args),
        );
      } catch (err) {
        if (ctx.err !== undefined && err === ctx.err) throw err;
        throw new QueueStoreError(this.#queue, 'enqueue', err);
      }
      if (res !== -1) return res === 1;
      // Full: wait for room until the caller's context ends.
      await sleep(ctx, ROOM_POLL.delayMs(attempt, 0));
      if (this.#closed) throw new QueueClosedError(this.#queue, 'enqueue');
    }
  }

  async cancel(id: string, reason: unknown): Promise<'queued' | 'running' | undefined> {
    const k = this.keys;
    const message = JSON.stringify({ id, reason: reason === undefined ? undefined : describeReason(reason) });
    let res: unknown;
    try {
      res = await evalScript(
        this.#cfg.redis,
        CANCEL,
        [k.jobPrefix + id, k.delayed, k.stream],
        [id, k.cancelChannel, message, this.#cfg.retainMs],
      );
    } catch (err) {
      throw new QueueStoreError(this.#queue, 'cancel', err);
    }
    return res === 1 ? 'queued' : res === 2 ? 'running' : undefined;
  }

  async depth(): Promise<number> {
    await this.ensureGroup();
    return Number(
      await evalScript(this.#cfg.redis, DEPTH, [this.keys.stream, this.keys.delayed], [this.#cfg.group]),
    );
  }

  async deadLetters(count: number): Promise<DeadLetter[]> {
    const rows = (await this.#cfg.redis.call('XRANGE', this.keys.dead, '-', '+', 'COUNT', count)) as [
      string,
      string[],
    ][];
    return rows.map(([, fields]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i] as string] = fields[i + 1] as string;
      return Object.freeze({
        id: f.i ?? '',
        data: parseJSON(f.d),
        attempts: Number(f.a ?? 0),
        error: parseJSON(f.e),
        at: Number(f.t ?? 0),
      });
    });
  }

  consumer(): Consumer {
    const c = new RedisConsumer(this);
    this.#consumers.add(c);
    this.#subscribe();
    return c;
  }

  removeConsumer(c: RedisConsumer): void {
    this.#consumers.delete(c);
  }

  addListener(l: (id: string, reason: unknown) => void): void {
    this.#listeners.add(l);
  }
  removeListener(l: (id: string, reason: unknown) => void): void {
    this.#listeners.delete(l);
  }

  notifyCancel(id: string, reason: unknown): void {
    for (const l of this.#listeners) l(id, reason);
  }

  ensureGroup(): Promise<void> {
    this.#group ??= this.#cfg.redis
      .call('XGROUP', 'CREATE', this.keys.stream, this.#cfg.group, '0', 'MKSTREAM')
      .then(
        () => undefined,
        (err: unknown) => {
          if (String((err as Error | null)?.message).includes('BUSYGROUP')) return;
          this.#group = undefined;
          throw err;
        },
      );
    return this.#group;
  }

  // One subscriber per queue carries cancel messages to this process's workers.
  #subscribe(): void {
    if (this.#sub !== undefined) return;
    const sub = this.#cfg.redis.duplicate();
    this.#sub = sub;
    sub.on('error', () => {
      // Reconnects on its own; the heartbeat carries cancels meanwhile.
    });
    sub.on('message', (_channel, message) => {
      let m: { id?: unknown; reason?: unknown };
      try {
        m = JSON.parse(message) as { id?: unknown; reason?: unknown };
      } catch {
        return;
      }
      if (typeof m.id === 'string') this.notifyCancel(m.id, m.reason);
    });
    // Subscribed once the connection is ready (a client with enableOfflineQueue: false refuses
    // commands before), and again whenever an attempt fails; ioredis resubscribes after reconnects.
    const channel = this.keys.cancelChannel;
    this.#subReady = new Promise<void>((resolve) => {
      const attempt = (): void => {
        if (this.#sub !== sub) {
          resolve();
          return;
        }
        sub.subscribe(channel).then(
          () => resolve(),
          () => sub.once('ready', attempt),
        );
      };
      if (sub.status === 'ready') attempt();
      else sub.once('ready', attempt);
    });
  }

  /** subscribed resolves once cancel messages reach this process (tests wait for it). */
  async subscribed(): Promise<void> {
    await this.#subReady;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#consumers].map((c) => c.close()));
    const sub = this.#sub;
    this.#sub = undefined;
    if (sub !== undefined) await sub.quit().catch(() => sub.disconnect());
  }
}

function parseJSON(s: string | undefined): unknown {
  if (s === undefined) return undefined;
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

interface Waiter {
  resolve(): void;
  reject(e: unknown): void;
}

interface RedisDelivery extends Delivery {
  readonly eid: string;
}

class RedisConsumer implements Consumer {
  readonly #b: RedisBinding;
  readonly #name = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  #blocking: RedisConnection | undefined;
  #listener: ((id: string, reason: unknown) => void) | undefined;
  readonly #active = new Map<string, string>(); // job id -> stream entry id
  // Cancel notices for jobs this consumer did not hold when they came, kept for UNMATCHED_MS: a
  // notice travels on the subscriber's connection and can overtake the fetch reply that hands the
  // job to this consumer (the cancel found it started). Applied when such a job arrives, instead
  // of at the next renewal (visibilityMs / 3 later).
  readonly #unmatched = new Map<string, { reason: unknown; at: number }>();
  #heartbeat: NodeJS.Timeout | undefined;
  #lastClaim = 0;
  #lastDepth = 0;
  #claimCursor = '0-0';
  // Jobs fetched ahead (prefetch): started in Redis (attempt counted, owned by this consumer, kept
  // alive by the heartbeat) but not yet handed to the worker. #aheadFull: that fetch came back
  // full, so the next is worth fetching ahead too once these are taken.
  #ahead: RedisDelivery[] = [];
  #aheadFull = false;
  #aheadCtx: Context | undefined;
  #aheadMax = 0;
  #prefetching: Promise<void> | undefined;
  // A call in flight that a stopping worker stopped waiting for (#letGo): not waited for again.
  #abandoned: Promise<void> | undefined;
  // A call that takes jobs may have lost its reply (it failed, or a connection dropped while it
  // was in flight): the jobs it took are pending to this consumer and held by nobody. The next
  // fetch adopts them (ADOPT) instead of leaving them to a reclaim after visibilityMs.
  #suspect = false;
  readonly #drops: Drops;
  // Settlement calls sent and not confirmed (their ops; in flight or to be sent again), and those
  // given up on with the time of their first failure: their entries may still be pending here and
  // are not adopted (they ran). One given up on is forgotten visibilityMs later (the reclaim has
  // its entries by then). Kept per call, not per job, to stay off the settlement's hot path.
  readonly #sending = new Set<(string | number)[]>();
  #givenUp: { ops: (string | number)[]; at: number }[] = [];
  #ops: (string | number)[] = [];
  #opWaiters: Waiter[] = [];
  // Settlements whose call failed, waiting to be sent again.
  readonly #resends = new Set<{ ops: (string | number)[]; timer: NodeJS.Timeout }>();
  #flushScheduled = false;
  readonly #inflight = new Set<Promise<unknown>>();
  #closed = false;

  constructor(b: RedisBinding) {
    this.#b = b;
    this.#drops = watchDrops(b.cfg.redis);
  }

  async fetch(ctx: Context, max: number): Promise<Delivery[]> {
    await this.#b.ensureGroup();
    if (this.#prefetching !== undefined) await this.#prefetching;
    if (this.#suspect && ctx.err === undefined) await this.#adopt();
    const ahead = this.tryFetch(max);
    if (ahead.length > 0) return ahead;
    const work = this.#fetchNew(ctx, max);
    let stop: (() => boolean) | undefined;
    const stopped = new Promise<undefined>((resolve) => {
      stop = afterFunc(ctx, () => resolve(undefined));
    });
    let jobs: Delivery[] | undefined;
    try {
      jobs = await Promise.race([work, stopped]);
    } catch (err) {
      this.#suspect = true;
      throw err;
    } finally {
      stop?.();
    }
    if (jobs !== undefined) return jobs;
    // The worker stopped while a call was in flight (Redis slow or not answering): the worker
    // goes on stopping, and what the call took joins the jobs fetched ahead, which go back.
    const late = work.then(
      (got) => {
        for (const d of got) {
          if (this.#closed) this.handBack(d).catch(() => {});
          else this.#ahead.push(d as RedisDelivery);
        }
      },
      () => {
        this.#suspect = true;
      },
    );
    this.#occupy(late);
    return [];
  }

  // #fetchNew starts ready jobs for this consumer, blocking on the stream while there are none.
  async #fetchNew(ctx: Context, max: number): Promise<Delivery[]> {
    const b = this.#b;
    const { redis, group, blockMs } = b.cfg;
    const k = b.keys;
    while (ctx.err === undefined && !this.#closed) {
      const res = await this.#fetchReady(max);
      const jobs = this.#deliveries(res[0]);
      if (jobs.length > 0) return this.#fetched(ctx, jobs, max);
      if (ctx.err !== undefined) break;
      // Nothing ready: block on the stream until a job arrives, a delayed one is due, or blockMs.
      const nextDue = res[2] === '' ? Number.POSITIVE_INFINITY : Number(res[2]);
      const wait = Math.max(1, Math.min(blockMs, Math.ceil(nextDue - Date.now())));
      if (nextDue <= Date.now()) continue;
      const entries = await this.#blockingRead(ctx, max, wait);
      if (entries.length === 0) continue;
      if (ctx.err !== undefined) {
        await this.#release(entries);
        break;
      }
      const started = (await evalScript(
        redis,
        START_ENTRIES,
        [k.stream],
        [group, this.#name, k.jobPrefix, this.#b.cfg.retainMs, ...entries.flat()],
      )) as string[][];
      const more = this.#deliveries(started);
      if (more.length > 0) return this.#fetched(ctx, more, max);
    }
    return [];
  }

  // #fetchReady runs FETCH once: due delayed jobs promoted, idle entries reclaimed every
  // visibilityMs/2, then up to `max` ready jobs started for this consumer.
  async #fetchReady(max: number): Promise<[string[][], string, string]> {
    const b = this.#b;
    const k = b.keys;
    const now = Date.now();
    if (depthChannel.hasSubscribers && now - this.#lastDepth >= 1000) {
      this.#lastDepth = now;
      b.depth().then(
        (depth) => {
          if (depthChannel.hasSubscribers) depthChannel.publish(Object.freeze({ queue: b.queue, depth }));
        },
        () => {},
      );
    }
    const visibilityMs = b.cfg.visibilityMs;
    const claimIdle = now - this.#lastClaim >= visibilityMs / 2 ? visibilityMs : 0;
    if (claimIdle > 0) this.#lastClaim = now;
    const drops = this.#drops.n;
    const res = (await evalScript(
      b.cfg.redis,
      FETCH,
      [k.stream, k.delayed],
      [b.cfg.group, this.#name, max, now, k.jobPrefix, claimIdle, this.#claimCursor, b.cfg.retainMs],
    )) as [string[][], string, string];
    if (this.#drops.n !== drops) this.#suspect = true;
    if (claimIdle > 0) this.#claimCursor = res[1];
    return res;
  }

  // #fetched returns a batch to the worker; a full one means a backlog: fetch the next ahead.
  #fetched(ctx: Context, jobs: RedisDelivery[], max: number): RedisDelivery[] {
    if (jobs.length >= max) {
      this.#aheadCtx = ctx;
      this.#aheadMax = max;
      this.#prefetch();
    }
    return jobs;
  }

  // #prefetch fetches up to prefetch x the worker's batch ahead, one call at a time.
  #prefetch(): void {
    const ctx = this.#aheadCtx;
    const count = this.#b.cfg.prefetch * this.#aheadMax;
    if (
      count === 0 ||
      ctx === undefined ||
      this.#prefetching !== undefined ||
      this.#closed ||
      ctx.err !== undefined
    )
      return;
    if (this.#suspect) {
      this.#adopt();
      return;
    }
    const p = this.#fetchReady(count).then(
      (res) => {
        const jobs = this.#deliveries(res[0]);
        for (const d of jobs) this.#ahead.push(d);
        this.#aheadFull = jobs.length >= count;
      },
      () => {
        // Nothing was handed over: the worker's next fetch meets the store's error and reports
        // it, and adopts the jobs the script may have started (#suspect).
        this.#suspect = true;
      },
    );
    this.#occupy(p);
  }

  // #adopt takes over the entries pending to this consumer that it does not hold (ADOPT), once a
  // call that takes jobs may have lost its reply; they join the jobs fetched ahead. It holds the
  // prefetch slot meanwhile, so no fetch is in flight: ADOPT would take that fetch's jobs too.
  #adopt(): Promise<void> {
    if (this.#prefetching !== undefined) return this.#prefetching;
    this.#suspect = false;
    const b = this.#b;
    const k = b.keys;
    const held: string[] = [];
    for (const eid of this.#active.values()) held.push(eid);
    const now = Date.now();
    this.#givenUp = this.#givenUp.filter((g) => now - g.at <= b.cfg.visibilityMs);
    for (const ops of [this.#ops, ...this.#sending, ...this.#givenUp.map((g) => g.ops)])
      for (let i = 1; i < ops.length; i += 4) held.push(ops[i] as string);
    const count = held.length + ADOPT_BATCH;
    const p = evalScript(
      b.cfg.redis,
      ADOPT,
      [k.stream],
      [b.cfg.group, this.#name, k.jobPrefix, b.cfg.retainMs, count, ...held],
    ).then(
      (res) => {
        const [rows, seen] = res as [string[][], number];
        for (const d of this.#deliveries(rows)) this.#ahead.push(d);
        if (seen >= count) this.#suspect = true;
      },
      () => {
        this.#suspect = true;
      },
    );
    this.#occupy(p);
    return p;
  }

  // #occupy makes p the call in flight that takes jobs (#prefetching) until it settles: one at a
  // time, so that ADOPT never runs beside a fetch whose jobs it would take too.
  #occupy(p: Promise<void>): void {
    this.#prefetching = p;
    p.finally(() => {
      if (this.#prefetching === p) this.#prefetching = undefined;
    });
  }

  /** tryFetch hands over jobs fetched ahead, up to `max`, without a round trip. */
  tryFetch(max: number): Delivery[] {
    const ahead = this.#ahead;
    if (ahead.length === 0) return [];
    const out = ahead.length <= max ? ahead : ahead.splice(0, max);
    if (out === ahead) this.#ahead = [];
    if (this.#ahead.length < this.#aheadMax && this.#aheadFull) this.#prefetch();
    return out;
  }

  // #letGo waits for a fetch in flight, then adopts what lost replies left pending here (a blocking
  // read the stop cut short), each for at most STOP_WAIT_MS: a stopping worker does not wait on a
  // store that does not answer. Jobs such a call took are reclaimed after visibilityMs.
  async #letGo(): Promise<void> {
    const p = this.#prefetching;
    if (p !== undefined && p !== this.#abandoned) {
      await within(p, STOP_WAIT_MS);
      if (this.#prefetching === p) this.#abandoned = p;
    }
    if (this.#suspect && this.#prefetching === undefined) {
      const a = this.#adopt();
      await within(a, STOP_WAIT_MS);
      if (this.#prefetching === a) this.#abandoned = a;
    }
  }

  /** takeBack returns the jobs fetched ahead and not handed over, once the worker stops taking jobs. */
  async takeBack(): Promise<Delivery[]> {
    this.#aheadFull = false;
    await this.#letGo();
    const out = this.#ahead;
    this.#ahead = [];
    return out;
  }

  #keepUnmatched(id: string, reason: unknown): void {
    const now = Date.now();
    // Oldest first (insertion order): drop those past their time.
    for (const [old, n] of this.#unmatched) {
      if (now - n.at < UNMATCHED_MS) break;
      this.#unmatched.delete(old);
    }
    this.#unmatched.delete(id);
    this.#unmatched.set(id, { reason, at: now });
  }

  // #applyUnmatched passes on a kept notice for a job just fetched, once the worker has it: after
  // this turn, when the worker has started it (the notice ends it) or it waits fetched ahead (the
  // notice ends it unrun).
  #applyUnmatched(id: string): void {
    const n = this.#unmatched.get(id);
    if (n === undefined) return;
    this.#unmatched.delete(id);
    if (Date.now() - n.at >= UNMATCHED_MS) return;
    setImmediate(() => this.#listener?.(id, n.reason));
  }

  // #cancelAhead ends a job fetched ahead whose cancel arrived before it was handed over: it never
  // starts and is settled as cancelled. False when the job is not waiting here.
  #cancelAhead(id: string): boolean {
    const i = this.#ahead.findIndex((d) => d.id === id);
    if (i < 0) return false;
    const d = this.#ahead[i] as RedisDelivery;
    this.#ahead.splice(i, 1);
    publish(cancelChannel, () => ({ queue: this.#b.queue, id, running: false }));
    this.cancelled(d).catch(() => {
      // Not recorded (Redis away): the entry stays pending and is reclaimed after visibilityMs by
      // a worker that starts it, and whose first renewal reads the cancel flag and ends it.
    });
    return true;
  }

  async #blockingRead(ctx: Context, max: number, waitMs: number): Promise<[string, string, string][]> {
    const b = this.#b;
    if (this.#blocking === undefined) {
      this.#blocking = b.cfg.redis.duplicate();
      // Its errors reach the pending read; ioredis reconnects on its own. A read in flight when it
      // closed may have taken entries whose reply never came: the next fetch adopts them.
      this.#blocking.on('error', () => {});
      this.#blocking.on('close', () => {
        this.#suspect = true;
      });
    }
    const conn = this.#blocking;
    if (conn.status !== 'ready') await whenReady(ctx, conn, 1000);
    // The worker stopping ends the read at once: the connection is dropped (it is ours alone).
    const stop = afterFunc(ctx, () => conn.disconnect());
    try {
      const res = (await conn.call(
        'XREADGROUP',
        'GROUP',
        b.cfg.group,
        this.#name,
        'COUNT',
        max,
        'BLOCK',
        waitMs,
        'STREAMS',
        b.keys.stream,
        '>',
      )) as [string, [string, string[]][]][] | null;
      if (res === null || res[0] === undefined) return [];
      // (entry id, job id, data): the data is '' for an entry that carries none (an older version's).
      return res[0][1].map(([eid, f]) => [eid, f[1] as string, f[2] === 'd' ? (f[3] as string) : '']);
    } catch (err) {
      if (ctx.err !== undefined) return [];
      throw err;
    } finally {
      stop();
    }
  }

  // #release gives back entries read but never started (the worker stopped meanwhile).
  async #release(entries: [string, string, string][]): Promise<void> {
    const { redis, group } = this.#b.cfg;
    const k = this.#b.keys;
    const started = (await evalScript(
      redis,
      START_ENTRIES,
      [k.stream],
      [group, this.#name, k.jobPrefix, this.#b.cfg.retainMs, ...entries.flat()],
    )) as string[][];
    for (const d of this.#deliveries(started)) await this.handBack(d);
  }

  #deliveries(rows: string[][]): RedisDelivery[] {
    const out: RedisDelivery[] = [];
    for (const row of rows) {
      const [eid, id, data, attempt, readyAt, deadline, reclaimed] = row as [
        string,
        string,
        string | null,
        string,
        string,
        string,
        string,
      ];
      this.#active.set(id, eid);
      if (this.#unmatched.size > 0) this.#applyUnmatched(id);
      const d: RedisDelivery = {
        eid,
        id,
        data: undefined,
        attempt: Number(attempt),
        readyAt: Number(readyAt),
        deadline: deadline === '' ? undefined : Number(deadline),
        reclaimed: reclaimed === '1',
      };
      try {
        (d as { data: unknown }).data = data === null ? undefined : JSON.parse(data);
      } catch (err) {
        // Not a job this queue can run: dead-lettered at once. Should that write fail, the entry
        // stays pending, is reclaimed after visibilityMs, and comes back here: nothing is lost.
        this.deadLetter(d, new Error(`job data is not valid JSON: ${describeReason(err)}`)).catch(() => {});
        continue;
      }
      out.push(d);
    }
    if (this.#active.size > 0) this.#startHeartbeat();
    return out;
  }

  complete(d: Delivery): Promise<void> {
    return this.#settle(d, 'complete', '');
  }
  cancelled(d: Delivery): Promise<void> {
    return this.#settle(d, 'cancelled', '');
  }
  retry(d: Delivery, delayMs: number): Promise<void> {
    return this.#settle(d, 'retry', Date.now() + Math.ceil(delayMs));
  }
  deadLetter(d: Delivery, error: unknown): Promise<void> {
    return this.#settle(d, 'dead', JSON.stringify(errorRecord(error)));
  }
  handBack(d: Delivery): Promise<void> {
    return this.#settle(d, 'handback', '');
  }

  // Settlements made in one turn of the event loop go to Redis in one script call.
  #settle(d: Delivery, op: string, arg: string | number): Promise<void> {
    const eid = (d as RedisDelivery).eid;
    if (this.#active.get(d.id) === eid) this.#active.delete(d.id);
    this.#ops.push(op, eid, d.id, arg);
    const p = new Promise<void>((resolve, reject) => this.#opWaiters.push({ resolve, reject }));
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
    return p;
  }

  #flush(): void {
    this.#flushScheduled = false;
    const ops = this.#ops;
    const waiters = this.#opWaiters;
    this.#ops = [];
    this.#opWaiters = [];
    if (ops.length === 0) return;
    this.#send(ops, waiters, 0, 0);
  }

  // #send runs one SETTLE call. One that fails may not have been recorded, and the jobs it settles
  // have run: it is sent again, every SETTLE_RETRY_MS doubling to SETTLE_RETRY_MAX_MS, until it
  // succeeds or visibilityMs has passed since its first failure (then the reclaim has the jobs,
  // and runs them again). SETTLE is idempotent: a second run finds each job settled and changes
  // nothing. The waiters hear of the first failure (the worker reports it through onStoreError).
  #send(ops: (string | number)[], waiters: Waiter[], failedAt: number, tries: number): void {
    this.#sending.add(ops);
    const b = this.#b;
    const k = b.keys;
    const p = evalScript(
      b.cfg.redis,
      SETTLE,
      [k.stream, k.delayed, k.dead],
      [b.cfg.group, this.#name, k.jobPrefix, b.cfg.retainMs, Date.now(), ...ops],
    ).then(
      () => {
        this.#sending.delete(ops);
        for (const w of waiters) w.resolve();
      },
      (err: unknown) => {
        const now = Date.now();
        const first = failedAt === 0 ? now : failedAt;
        const e = new QueueStoreError(b.queue, 'acknowledging finished jobs', err);
        for (const w of waiters) w.reject(e);
        if (this.#closed || now - first >= b.cfg.visibilityMs) {
          // Given up: these entries may still be pending here and are not adopted (they ran);
          // the reclaim has them.
          this.#sending.delete(ops);
          this.#givenUp.push({ ops, at: first });
          return;
        }
        const wait = Math.min(SETTLE_RETRY_MAX_MS, SETTLE_RETRY_MS * 2 ** tries);
        const again = { ops, timer: setTimeout(() => resend(), wait).unref() };
        const resend = (): void => {
          this.#resends.delete(again);
          this.#send(ops, [], first, tries + 1);
        };
        this.#resends.add(again);
      },
    );
    this.#inflight.add(p);
    p.finally(() => this.#inflight.delete(p));
  }

  #startHeartbeat(): void {
    if (this.#heartbeat !== undefined || this.#closed) return;
    const every = Math.max(10, Math.floor(this.#b.cfg.visibilityMs / 3));
    this.#heartbeat = setInterval(() => this.#beat(), every);
    this.#heartbeat.unref();
  }

  #beat(): void {
    if (this.#active.size === 0) {
      clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
      return;
    }
    const b = this.#b;
    const args: string[] = [];
    for (const [id, eid] of this.#active) args.push(eid, id);
    evalScript(
      b.cfg.redis,
      HEARTBEAT,
      [b.keys.stream],
      [b.cfg.group, this.#name, b.keys.jobPrefix, ...args],
    ).then(
      (ids) => {
        for (const id of ids as string[]) b.notifyCancel(id, undefined);
      },
      () => {
        // A missed beat: the next one renews; after visibilityMs another worker may reclaim.
      },
    );
  }

  onCancel(listener: (id: string, reason: unknown) => void): void {
    if (this.#listener) this.#b.removeListener(this.#listener);
    const toWorker = (id: string, reason: unknown): void => {
      if (this.#cancelAhead(id)) return;
      if (!this.#active.has(id)) this.#keepUnmatched(id, reason);
      listener(id, reason);
    };
    this.#listener = toWorker;
    this.#b.addListener(toWorker);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#listener) this.#b.removeListener(this.#listener);
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    // Jobs fetched ahead that no worker took back go back to the stream with the last settlements,
    // and so do those a lost reply left pending here (a blocking read cut short by the stop).
    await this.#letGo();
    for (const d of this.#ahead) this.handBack(d).catch(() => {});
    this.#ahead = [];
    // Settlements still queued go out before the connection closes.
    if (this.#flushScheduled) {
      this.#flushScheduled = false;
      this.#flush();
    }
    // Failed settlements get one last try now.
    for (const r of this.#resends) {
      clearTimeout(r.timer);
      this.#send(r.ops, [], Date.now(), 0);
    }
    this.#resends.clear();
    await within(Promise.allSettled([...this.#inflight]), STOP_WAIT_MS);
    this.#b.removeConsumer(this);
    unwatchDrops(this.#b.cfg.redis, this.#drops);
    const conn = this.#blocking;
    this.#blocking = undefined;
    if (conn !== undefined) conn.disconnect();
  }
}

// within waits for p, or `ms`, whichever comes first.
function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.then(
      () => {},
      () => {},
    ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// whenReady waits until a new connection can take commands, the worker stops, or `ms` passed
// (then the read is tried anyway, and its error, if Redis is away, is reported).
function whenReady(ctx: Context, conn: RedisConnection, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      stop();
      conn.removeListener('ready', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const stop = afterFunc(ctx, done);
    conn.once('ready', done);
  });
}

function errorRecord(error: unknown): { name: string; message: string; code?: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string'
      ? { name: error.name, message: error.message, code }
      : { name: error.name, message: error.message };
  }
  return { name: 'Error', message: describeReason(error) };
}
