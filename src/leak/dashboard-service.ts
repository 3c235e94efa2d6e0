// The dashboard's service series: request outcomes and cache lookups per tier, read from the
// tallies those layers always keep (src/context/tallies.ts: no event per request), and what the
// other layers publish on their leash:* diagnostics channels (the defences' decisions, queue depth,
// adaptive limits), counted per sample interval. Subscribed by channel name, so the leak layer
// imports none of the layers it watches, and only while a dashboard runs: publishers build their
// event payloads only when someone listens.
import diagnostics_channel from 'node:diagnostics_channel';
import { cacheTallies, REQUEST_OUTCOMES, type RequestTally, requestTally } from '../context/internal.js';

/** ServiceCounts is one interval of the service series; counts are for the interval alone. */
export interface ServiceCounts {
  /** Request contexts ended in the interval, by outcome: finished, client_gone, deadline, shutdown, cancelled. */
  readonly requests: Readonly<Record<string, number>>;
  /**
   * The defences' decisions in the interval: shed (503 from shedLoad), breaker (calls a circuit
   * breaker refused), bulkhead, rate_limited, timeouts, retries, hedges.
   */
  readonly defences: Readonly<Record<string, number>>;
  /** Cache lookups in the interval by tier: [hits, misses]. */
  readonly cache: Readonly<Record<string, readonly [number, number]>>;
  /** Circuit breakers open (open or forced-open) at the end of the interval. */
  readonly breakersOpen: number;
  /** Last reported depth of each queue (at most MAX_NAMES names, the rest under "other"). */
  readonly queueDepth: Readonly<Record<string, number>>;
  /** Last reported limit of each adaptive limit (at most MAX_NAMES names). */
  readonly adaptiveLimit: Readonly<Record<string, number>>;
}

// Names of queues and limits charted one by one; past this many, one series "other" (bounded memory
// and a legend that stays readable, whatever names the application makes up).
const MAX_NAMES = 8;
const DEFENCE_CHANNELS: ReadonlyArray<readonly [string, string]> = [
  ['leash:resilience:shed-load:shed', 'shed'],
  ['leash:resilience:breaker:rejected', 'breaker'],
  ['leash:resilience:bulkhead:rejected', 'bulkhead'],
  ['leash:resilience:rate-limiter:limited', 'rate_limited'],
  ['leash:resilience:timeout:timeout', 'timeouts'],
  ['leash:resilience:retry:retry', 'retries'],
  ['leash:resilience:hedge:hedge', 'hedges'],
];

type Msg = Record<string, unknown> | null | undefined;

function field(m: unknown, key: string): unknown {
  return typeof m === 'object' && m !== null ? (m as Record<string, unknown>)[key] : undefined;
}

/** @internal ServiceWatch counts the service series until stop(); take() returns an interval and starts the next. */
export class ServiceWatch {
  #defences: Record<string, number> = {};
  // The tallies at the previous take(): an interval's counts are the differences.
  #requestsBefore: RequestTally = { ...requestTally };
  #cacheBefore = sumCacheTallies();
  // Breaker name -> open; queue and limit name -> last value. Names past MAX_NAMES go under "other".
  readonly #open = new Map<string, boolean>();
  readonly #depth = new Map<string, number>();
  readonly #limit = new Map<string, number>();
  readonly #subs: [string, (m: unknown) => void][] = [];

  constructor() {
    const on = (name: string, fn: (m: Msg) => void) => {
      // A throwing subscriber would become an uncaughtException in the publisher's code path.
      const h = (m: unknown) => {
        try {
          fn(m as Msg);
        } catch {}
      };
      this.#subs.push([name, h]);
      diagnostics_channel.subscribe(name, h);
    };
    for (const [channel, kind] of DEFENCE_CHANNELS) {
      on(channel, () => {
        this.#defences[kind] = (this.#defences[kind] ?? 0) + 1;
      });
    }
    on('leash:resilience:breaker:state-change', (m) => {
      const to = field(m, 'to');
      remember(this.#open, field(m, 'name'), to === 'open' || to === 'forced-open');
    });
    on('leash:queue:depth', (m) => {
      const depth = field(m, 'depth');
      if (typeof depth === 'number' && Number.isFinite(depth))
        remember(this.#depth, field(m, 'queue'), depth);
    });
    on('leash:resilience:adaptive-limit:limit-change', (m) => {
      const to = field(m, 'to');
      if (typeof to === 'number' && Number.isFinite(to)) remember(this.#limit, field(m, 'name'), to);
    });
  }

  /** take returns the interval that just ended and starts counting the next. */
  take(): ServiceCounts {
    let breakersOpen = 0;
    for (const open of this.#open.values()) if (open) breakersOpen++;
    const requests: Record<string, number> = {};
    const now = { ...requestTally };
    for (const outcome of REQUEST_OUTCOMES) {
      // A shed request is charted with the defences (shed); here it is one that finished.
      const key = outcome === 'shed' ? 'finished' : outcome;
      const n = now[outcome] - this.#requestsBefore[outcome];
      if (n > 0) requests[key] = (requests[key] ?? 0) + n;
    }
    this.#requestsBefore = now;
    const cacheNow = sumCacheTallies();
    const cache: Record<string, readonly [number, number]> = {};
    for (const tier of ['memory', 'redis'] as const) {
      const [h0, m0] = this.#cacheBefore[tier];
      const [h1, m1] = cacheNow[tier];
      if (h1 - h0 > 0 || m1 - m0 > 0) cache[tier] = Object.freeze([h1 - h0, m1 - m0] as const);
    }
    this.#cacheBefore = cacheNow;
    const out: ServiceCounts = Object.freeze({
      requests: Object.freeze(requests),
      defences: Object.freeze(this.#defences),
      cache: Object.freeze(cache),
      breakersOpen,
      queueDepth: Object.freeze(Object.fromEntries(this.#depth)),
      adaptiveLimit: Object.freeze(Object.fromEntries(this.#limit)),
    });
    this.#defences = {};
    return out;
  }

  /** stop unsubscribes from every channel. Idempotent. */
  stop(): void {
    for (const [name, h] of this.#subs) diagnostics_channel.unsubscribe(name, h);
    this.#subs.length = 0;
  }
}

/** sumCacheTallies adds up every cache's lookups by tier: [hits, misses]. */
function sumCacheTallies(): Record<'memory' | 'redis', [number, number]> {
  const sum: Record<'memory' | 'redis', [number, number]> = { memory: [0, 0], redis: [0, 0] };
  for (const t of cacheTallies()) {
    sum.memory[0] += t.memoryHit;
    sum.memory[1] += t.memoryMiss;
    sum.redis[0] += t.redisHit;
    sum.redis[1] += t.redisMiss;
  }
  return sum;
}

function remember<T>(map: Map<string, T>, name: unknown, value: T): void {
  let key = typeof name === 'string' && name !== '' ? name : 'unnamed';
  if (!map.has(key) && map.size >= MAX_NAMES) key = 'other';
  map.set(key, value);
}
