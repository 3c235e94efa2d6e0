// The state behind leashjs/metrics: it subscribes to the leash:* diagnostics channels by name (no
// import of the layers that publish them) and keeps every family up to date as events arrive. The
// two hottest counts, request contexts by outcome and cache lookups by tier, are not events: the
// layers keep plain counters (context/tallies.ts) that pull() reads when the exporters collect, so
// a request costs no event at all. The exporters (prom-client, OpenTelemetry) call pull() and read
// the families, so a collection costs O(series).
import diagnostics_channel from 'node:diagnostics_channel';
import {
  type CacheTally,
  cacheTallies,
  REQUEST_OUTCOMES,
  type RequestTally,
  requestEndOutcome,
  requestTally,
} from '../context/internal.js';
import { EventLoopSampler } from './event-loop.js';
import { Family, type Series } from './family.js';
import { NameCap, OTHER } from './name-cap.js';

/** @internal CollectorOptions are the validated options shared by both exporters. */
export interface CollectorOptions {
  readonly maxNames: number;
  readonly buckets: readonly number[];
  /** eventLoopIntervalMs is the sampling interval, or 0 for no event-loop families. */
  readonly eventLoopIntervalMs: number;
  readonly eventLoopResolutionMs: number;
  /** httpDuration turns on the request duration histogram (a WeakMap entry and two clock reads per request). */
  readonly httpDuration: boolean;
}

const BREAKER_STATES = ['closed', 'open', 'half-open', 'forced-open', 'disabled'] as const;
const BREAKER_SET: ReadonlySet<string> = new Set(BREAKER_STATES);
const QUEUE_OUTCOMES = new Set(['completed', 'failed', 'cancelled', 'handed-back']);
const LOAD_OUTCOMES = new Set(['ok', 'error', 'timeout', 'abandoned']);
const BULKHEAD_REASONS = new Set(['full', 'budget']);
const GIVE_UP_REASONS = new Set(['attempts', 'not-retryable', 'budget', 'deadline']);
const STORE_DECISIONS = new Set(['allow', 'reject', 'local']);
const WAIT_OPS = new Set(['sleep', 'abortable']);
const TALLY_FIELDS = ['memoryHit', 'memoryMiss', 'redisHit', 'redisMiss'] as const;
const TALLY_LABELS = [
  ['memory', 'hit'],
  ['memory', 'miss'],
  ['redis', 'hit'],
  ['redis', 'miss'],
] as const;

function oneOf(set: ReadonlySet<string>, v: unknown): string {
  return typeof v === 'string' && set.has(v) ? v : OTHER;
}

function ms(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v / 1000 : 0;
}

type Handler = (msg: unknown) => void;
type Msg = Record<string, unknown>;

/** @internal Collector holds every family and the subscriptions that feed them. */
export class Collector {
  readonly families: Family[] = [];
  readonly #subs: [string, Handler][] = [];
  readonly #policies: NameCap;
  readonly #caches: NameCap;
  readonly #queues: NameCap;
  readonly #sampler: EventLoopSampler | undefined;

  // tasks
  readonly tasksLive: Family;
  readonly tasksStarted: Family;
  readonly tasksEnded: Family;
  readonly tasksUnhandled: Family;
  readonly waits: Family;
  readonly abandoned: Family;
  // http
  readonly httpInFlight: Family;
  readonly httpRequests: Family;
  readonly httpDuration: Family;
  readonly httpHandlerErrors: Family;
  // resilience
  readonly breakerState: Family;
  readonly breakerTransitions: Family;
  readonly breakerRejected: Family;
  readonly bulkheadRejected: Family;
  readonly retries: Family;
  readonly retryGiveUps: Family;
  readonly timeouts: Family;
  readonly rateLimited: Family;
  readonly storeErrors: Family;
  readonly adaptiveLimit: Family;
  readonly hedges: Family;
  readonly shed: Family;
  // cache
  readonly cacheRequests: Family;
  readonly cacheCoalesced: Family;
  readonly cacheStale: Family;
  readonly cacheLoads: Family;
  // queue
  readonly queueEnqueued: Family;
  readonly queueDepth: Family;
  readonly queueRunning: Family;
  readonly queueWait: Family;
  readonly queueRun: Family;
  readonly queueRetries: Family;
  readonly queueDeadLetters: Family;
  readonly queueCancelled: Family;
  // pg
  readonly pgCancels: Family;
  // self
  readonly overflow: Family;
  // event loop
  readonly loopDelay: Family | undefined;
  readonly loopUtilization: Family | undefined;

  // Tasks started before the collector subscribed are not counted live; ids only grow, so a task
  // whose id is below the first one seen started before and its end is ignored for the live gauge.
  #firstTaskId = Number.POSITIVE_INFINITY;
  readonly #requestStart: WeakMap<object, number> | undefined;
  readonly #waitsSeen = new WeakSet<object>();
  // Hot series, resolved once.
  readonly #live: Series;
  readonly #started: Series;
  readonly #inFlight: Series;
  readonly #outcomes = new Map<string, [Series, Series]>();
  // The tallies as they were at start() (counted before the collector was, so not counted), and
  // each cache tally's label, given once so that a name past maxNames is folded only once.
  #requestsAtStart: RequestTally | undefined;
  readonly #cachesAtStart = new Map<CacheTally, readonly number[]>();
  readonly #cacheLabels = new Map<CacheTally, string>();
  #cacheLookupsFolded = 0;
  // Set by pull() until the end of the current turn: a scrape reads the four pulled families one
  // after another in one synchronous pass (prom-client calls every metric's get() before awaiting
  // any), and one reading of the tallies serves them all.
  #pulledThisTurn = false;

  constructor(o: CollectorOptions) {
    this.#policies = new NameCap(o.maxNames);
    this.#caches = new NameCap(o.maxNames);
    this.#queues = new NameCap(o.maxNames);
    const b = o.buckets;
    const add = (f: Family): Family => {
      this.families.push(f);
      return f;
    };
    this.tasksLive = add(
      new Family(
        'tasks_live',
        'gauge',
        'Tasks started by go or a Group (since metrics started) and not yet settled.',
      ),
    );
    this.tasksStarted = add(new Family('tasks_started_total', 'counter', 'Tasks started.'));
    this.tasksEnded = add(
      new Family('tasks_ended_total', 'counter', 'Tasks settled, by final state.', ['state']),
    );
    this.tasksUnhandled = add(
      new Family('tasks_unhandled_total', 'counter', 'Tasks that failed while nobody read their done.'),
    );
    this.waits = add(
      new Family(
        'context_waits',
        'gauge',
        "leash's own blocking waits in progress (sleep, abortable), by operation.",
        ['op'],
      ),
    );
    this.abandoned = add(
      new Family(
        'context_abandoned_rejections_total',
        'counter',
        'Rejections of work abortable() had stopped waiting for.',
      ),
    );
    this.httpInFlight = add(new Family('http_requests_in_flight', 'gauge', 'Request contexts open now.'));
    this.httpRequests = add(
      new Family(
        'http_requests_total',
        'counter',
        'Request contexts ended, by outcome: finished, client_gone, deadline, shed, shutdown, cancelled.',
        ['outcome'],
      ),
    );
    this.httpDuration = new Family(
      'http_request_duration_seconds',
      'histogram',
      'Request context lifetimes, from creation to the response closing, by outcome.',
      ['outcome'],
      b,
    );
    if (o.httpDuration) add(this.httpDuration);
    this.httpHandlerErrors = add(
      new Family(
        'http_handler_errors_total',
        'counter',
        'Handlers that threw or rejected, by the status answered (0: nothing could be sent).',
        ['status'],
      ),
    );
    this.breakerState = add(
      new Family(
        'breaker_state',
        'gauge',
        'Circuit breaker state: 1 for the current state, 0 for the others.',
        ['name', 'state'],
      ),
    );
    this.breakerTransitions = add(
      new Family('breaker_transitions_total', 'counter', 'Circuit breaker state changes.', [
        'name',
        'from',
        'to',
      ]),
    );
    this.breakerRejected = add(
      new Family('breaker_rejected_total', 'counter', 'Calls a circuit breaker did not let through.', [
        'name',
      ]),
    );
    this.bulkheadRejected = add(
      new Family(
        'bulkhead_rejected_total',
        'counter',
        'Calls a bulkhead rejected, by reason: full or budget.',
        ['name', 'reason'],
      ),
    );
    this.retries = add(
      new Family('retries_total', 'counter', 'Attempts that failed and were retried.', ['name']),
    );
    this.retryGiveUps = add(
      new Family('retry_give_ups_total', 'counter', 'Retry policies that stopped, by reason.', [
        'name',
        'reason',
      ]),
    );
    this.timeouts = add(
      new Family('timeouts_total', 'counter', 'Calls a timeout policy released at its deadline.', ['name']),
    );
    this.rateLimited = add(
      new Family('rate_limited_total', 'counter', 'Calls a rate limiter rejected (keys are never labels).', [
        'name',
      ]),
    );
    this.storeErrors = add(
      new Family(
        'rate_limiter_store_errors_total',
        'counter',
        'Redis rate limiter store failures, by the decision applied.',
        ['name', 'decision'],
      ),
    );
    this.adaptiveLimit = add(
      new Family(
        'adaptive_limit',
        'gauge',
        'Current concurrency limit of each adaptive limit (as of its last change).',
        ['name'],
      ),
    );
    this.hedges = add(
      new Family('hedges_total', 'counter', 'Second attempts started by a hedge policy.', ['name']),
    );
    this.shed = add(new Family('shed_total', 'counter', 'Requests shedLoad answered 503.'));
    this.cacheRequests = add(
      new Family('cache_requests_total', 'counter', 'Cache lookups, by tier and result (hit, miss).', [
        'name',
        'tier',
        'result',
      ]),
    );
    this.cacheCoalesced = add(
      new Family('cache_coalesced_total', 'counter', 'getOrLoad calls that joined a load already running.', [
        'name',
      ]),
    );
    this.cacheStale = add(
      new Family('cache_stale_served_total', 'counter', 'Stale values served while a refresh runs.', [
        'name',
      ]),
    );
    this.cacheLoads = add(
      new Family(
        'cache_load_duration_seconds',
        'histogram',
        'Loader durations, by outcome: ok, error, timeout, abandoned.',
        ['name', 'outcome'],
        b,
      ),
    );
    this.queueEnqueued = add(new Family('queue_enqueued_total', 'counter', 'Jobs enqueued.', ['queue']));
    this.queueDepth = add(
      new Family('queue_depth', 'gauge', 'Jobs waiting, as last reported by the queue.', ['queue']),
    );
    this.queueRunning = add(
      new Family('queue_running', 'gauge', 'Jobs started and not yet finished (since metrics started).', [
        'queue',
      ]),
    );
    this.queueWait = add(
      new Family(
        'queue_wait_seconds',
        'histogram',
        'Time from enqueue to start of each attempt.',
        ['queue'],
        b,
      ),
    );
    this.queueRun = add(
      new Family(
        'queue_run_seconds',
        'histogram',
        'Attempt run times, by outcome: completed, failed, cancelled, handed-back.',
        ['queue', 'outcome'],
        b,
      ),
    );
    this.queueRetries = add(
      new Family('queue_retries_total', 'counter', 'Job attempts that failed and were scheduled again.', [
        'queue',
      ]),
    );
    this.queueDeadLetters = add(
      new Family('queue_dead_letters_total', 'counter', 'Jobs moved to the dead-letter list.', ['queue']),
    );
    this.queueCancelled = add(
      new Family('queue_cancelled_total', 'counter', 'Jobs cancelled, by whether they were running.', [
        'queue',
        'running',
      ]),
    );
    this.pgCancels = add(
      new Family('pg_cancels_total', 'counter', 'PostgreSQL cancel requests sent by leashjs/pg.'),
    );
    this.overflow = add(
      new Family(
        'metrics_label_overflow_total',
        'counter',
        'Events whose name was counted under "other" because the kind already had maxNames names.',
        ['kind'],
      ),
    );
    if (o.eventLoopIntervalMs > 0) {
      this.loopDelay = add(
        new Family(
          'event_loop_delay_seconds',
          'gauge',
          'Event-loop delay over the last interval (not since start), by statistic: mean, p50, p90, p99, max.',
          ['stat'],
        ),
      );
      this.loopUtilization = add(
        new Family(
          'event_loop_utilization',
          'gauge',
          'Event-loop utilisation (0 to 1) over the last interval (not since start).',
        ),
      );
      this.#sampler = new EventLoopSampler(
        o.eventLoopIntervalMs,
        o.eventLoopResolutionMs,
        this.loopDelay,
        this.loopUtilization,
      );
    }
    for (const f of [this.httpInFlight, this.httpRequests, this.cacheRequests, this.overflow])
      f.pulled = true;
    this.#live = this.tasksLive.at();
    this.#started = this.tasksStarted.at();
    this.#inFlight = this.httpInFlight.at();
    if (o.httpDuration) this.#requestStart = new WeakMap();
    for (const outcome of REQUEST_OUTCOMES) {
      this.#outcomes.set(outcome, [this.httpRequests.at(outcome), this.httpDuration.at(outcome)]);
    }
    for (const s of ['done', 'failed']) this.tasksEnded.at(s);
    for (const op of WAIT_OPS) this.waits.at(op);
    for (const kind of ['policy', 'cache', 'queue']) this.overflow.at(kind);
    this.tasksUnhandled.at();
    this.abandoned.at();
    this.shed.at();
    this.pgCancels.at();
  }

  /** start subscribes to every channel and starts the event-loop sampler. */
  start(): void {
    // A subscriber that throws becomes an uncaughtException (diagnostics_channel rethrows it on the
    // next tick): whatever someone publishes on a leash:* name, an observer must never take the
    // process down, so a message that is not an object, or whose properties throw, is skipped.
    const on = (name: string, fn: (m: Msg) => void): void => {
      const h: Handler = (msg) => {
        if (typeof msg !== 'object' || msg === null) return;
        try {
          fn(msg as Msg);
        } catch {
          // A hostile payload (a proxy, a throwing getter): not a leash event, nothing to count.
        }
      };
      diagnostics_channel.subscribe(name, h);
      this.#subs.push([name, h]);
    };
    const policy = (m: Msg): string => this.#label(this.#policies, m.name, 'policy');
    const cacheName = (m: Msg): string => this.#label(this.#caches, m.name, 'cache');
    const queue = (m: Msg): string => this.#label(this.#queues, m.queue, 'queue');
    const inc = (s: Series): void => {
      s.value++;
    };

    on('leash:task:start', (m) => {
      const id = m.id as number;
      if (id < this.#firstTaskId) this.#firstTaskId = id;
      this.#live.value++;
      this.#started.value++;
    });
    on('leash:task:end', (m) => {
      if ((m.id as number) >= this.#firstTaskId && this.#live.value > 0) this.#live.value--;
      inc(this.tasksEnded.at(m.state === 'failed' ? 'failed' : 'done'));
    });
    on('leash:task:unhandled', () => inc(this.tasksUnhandled.at()));
    on('leash:context:wait-start', (m) => {
      this.#waitsSeen.add(m);
      inc(this.waits.at(oneOf(WAIT_OPS, m.op)));
    });
    on('leash:context:wait-end', (m) => {
      if (this.#waitsSeen.delete(m)) this.waits.at(oneOf(WAIT_OPS, m.op)).value--;
    });
    on('leash:context:abandoned-rejection', () => inc(this.abandoned.at()));

    // Requests are counted by pull(); only their durations, when asked for, need the events.
    const starts = this.#requestStart;
    if (starts !== undefined) {
      on('leash:http:request-start', (m) => {
        starts.set(m.res as object, performance.now());
      });
      on('leash:http:request-end', (m) => {
        const res = m.res as { statusCode?: number };
        const started = starts.get(res);
        if (started === undefined) return;
        starts.delete(res);
        const [, duration] = this.#outcomes.get(requestEndOutcome(res, m.cause)) as [Series, Series];
        this.httpDuration.observe(duration, (performance.now() - started) / 1000);
      });
    }
    on('leash:http:handler-error', (m) => {
      const status = m.status;
      const label =
        Number.isInteger(status) && (status as number) >= 0 && (status as number) < 600
          ? String(status)
          : OTHER;
      inc(this.httpHandlerErrors.at(label));
    });

    on('leash:resilience:breaker:state-change', (m) => {
      const name = policy(m);
      const to = oneOf(BREAKER_SET, m.to);
      for (const s of BREAKER_STATES) this.breakerState.at(name, s).value = s === to ? 1 : 0;
      inc(this.breakerTransitions.at(name, oneOf(BREAKER_SET, m.from), to));
    });
    on('leash:resilience:breaker:rejected', (m) => inc(this.breakerRejected.at(policy(m))));
    on('leash:resilience:bulkhead:rejected', (m) =>
      inc(this.bulkheadRejected.at(policy(m), oneOf(BULKHEAD_REASONS, m.reason))),
    );
    on('leash:resilience:retry:retry', (m) => inc(this.retries.at(policy(m))));
    on('leash:resilience:retry:give-up', (m) =>
      inc(this.retryGiveUps.at(policy(m), oneOf(GIVE_UP_REASONS, m.reason))),
    );
    on('leash:resilience:timeout:timeout', (m) => inc(this.timeouts.at(policy(m))));
    on('leash:resilience:rate-limiter:limited', (m) => inc(this.rateLimited.at(policy(m))));
    on('leash:resilience:redis-rate-limiter:store-error', (m) =>
      inc(this.storeErrors.at(policy(m), oneOf(STORE_DECISIONS, m.decision))),
    );
    on('leash:resilience:adaptive-limit:limit-change', (m) => {
      const to = m.to;
      if (typeof to === 'number' && Number.isFinite(to)) this.adaptiveLimit.at(policy(m)).value = to;
    });
    on('leash:resilience:hedge:hedge', (m) => inc(this.hedges.at(policy(m))));
    on('leash:resilience:shed-load:shed', () => inc(this.shed.at()));

    // Cache lookups are counted by pull().
    on('leash:cache:coalesced', (m) => inc(this.cacheCoalesced.at(cacheName(m))));
    on('leash:cache:stale', (m) => inc(this.cacheStale.at(cacheName(m))));
    on('leash:cache:load', (m) => {
      const s = this.cacheLoads.at(cacheName(m), oneOf(LOAD_OUTCOMES, m.outcome));
      this.cacheLoads.observe(s, ms(m.durationMs));
    });

    // Depth comes from leash:queue:depth alone (a queue publishes it after an enqueue whose store
    // knows it); the enqueue event's depth is -1 when the store does not (Redis).
    on('leash:queue:enqueue', (m) => inc(this.queueEnqueued.at(queue(m))));
    on('leash:queue:depth', (m) => {
      if (typeof m.depth === 'number' && m.depth >= 0) this.queueDepth.at(queue(m)).value = m.depth;
    });
    on('leash:queue:start', (m) => {
      const q = queue(m);
      inc(this.queueRunning.at(q));
      this.queueWait.observe(this.queueWait.at(q), ms(m.waitMs));
    });
    on('leash:queue:finish', (m) => {
      const q = queue(m);
      const running = this.queueRunning.at(q);
      if (running.value > 0) running.value--;
      this.queueRun.observe(this.queueRun.at(q, oneOf(QUEUE_OUTCOMES, m.outcome)), ms(m.runMs));
    });
    on('leash:queue:retry', (m) => inc(this.queueRetries.at(queue(m))));
    on('leash:queue:dead-letter', (m) => inc(this.queueDeadLetters.at(queue(m))));
    on('leash:queue:cancel', (m) =>
      inc(this.queueCancelled.at(queue(m), m.running === true ? 'true' : 'false')),
    );

    on('leash:pg:cancel', () => inc(this.pgCancels.at()));

    this.#requestsAtStart = { ...requestTally };
    for (const t of cacheTallies())
      this.#cachesAtStart.set(
        t,
        TALLY_FIELDS.map((f) => t[f]),
      );
    this.#sampler?.start();
  }

  /**
   * pull brings the counts the layers keep as tallies (request contexts by outcome and open now,
   * cache lookups by tier and result) into their families, as the difference from start().
   * The exporters call it before they read the families; calls after the first in one turn of the
   * event loop do nothing (the tallies move only when other code runs).
   */
  pull(): void {
    const atStart = this.#requestsAtStart;
    if (atStart === undefined || this.#pulledThisTurn) return;
    this.#pulledThisTurn = true;
    queueMicrotask(() => {
      this.#pulledThisTurn = false;
    });
    const now = requestTally;
    let ended = 0;
    for (const outcome of REQUEST_OUTCOMES) {
      ended += now[outcome];
      (this.#outcomes.get(outcome) as [Series, Series])[0].value = now[outcome] - atStart[outcome];
    }
    // Open now is a fact of the process, not of the collector: every request counts.
    this.#inFlight.value = Math.max(0, now.started - ended);

    for (const s of this.cacheRequests.series) s.value = 0;
    let folded = 0;
    for (const t of cacheTallies()) {
      const before = this.#cachesAtStart.get(t);
      for (let i = 0; i < TALLY_FIELDS.length; i++) {
        const n = t[TALLY_FIELDS[i] as (typeof TALLY_FIELDS)[number]] - (before?.[i] ?? 0);
        if (n === 0) continue;
        // A name takes a label at its first lookup since start, as at its first event elsewhere;
        // the shared tally of the names past the process table's cap is `other` too.
        let label = this.#cacheLabels.get(t);
        if (label === undefined) {
          label = t.name === undefined ? OTHER : this.#caches.label(t.name);
          this.#cacheLabels.set(t, label);
        }
        const [tier, result] = TALLY_LABELS[i] as (typeof TALLY_LABELS)[number];
        this.cacheRequests.at(label, tier, result).value += n;
        if (label === OTHER) folded += n;
      }
    }
    // Lookups folded into `other` are the cache kind's overflow, as events are for the other kinds.
    if (folded > this.#cacheLookupsFolded) {
      this.overflow.at('cache').value += folded - this.#cacheLookupsFolded;
      this.#cacheLookupsFolded = folded;
    }
  }

  /** stop unsubscribes from every channel and stops the sampler: nothing of the collector is left running. */
  stop(): void {
    for (const [name, h] of this.#subs) diagnostics_channel.unsubscribe(name, h);
    this.#subs.length = 0;
    this.#sampler?.stop();
  }

  #label(cap: NameCap, name: unknown, kind: string): string {
    const before = cap.overflowed;
    const label = cap.label(name);
    if (cap.overflowed !== before) this.overflow.at(kind).value++;
    return label;
  }
}
