// Tallies: plain counters that the hottest paths (a request context's start and end, a cache lookup)
// keep instead of publishing a diagnostics event per call, and that leashjs/metrics reads when it is
// scraped. An event per request costs an allocation, a freeze and a publish (about 0.2 µs each on
// Node 20: three events cost 0.66 µs per request with subscribers that do nothing, the paired part
// of bench/metrics.bench.ts with TOGGLE_WITHOUT=collector); an increment costs next to nothing, so the tallies
// are always kept, whether or not anything reads them, and a reader that starts later subtracts
// what it found at its start. The events are still published to whoever subscribes.
//
// They live on globalThis under a registered symbol, as diagnostics channels live in one process
// table by name: two copies of leashjs in one process (two versions in node_modules) count into the
// same tallies, so a collector from one copy still sees requests served through the other.

/**
 * RequestTally counts request contexts (leashjs/http): how many were created, and how many ended,
 * by outcome (the names of requestOutcome, plus `shed`: answered 503 by shedLoad). Open now =
 * started minus the sum of the outcomes.
 */
export interface RequestTally {
  started: number;
  finished: number;
  client_gone: number;
  deadline: number;
  shed: number;
  shutdown: number;
  cancelled: number;
}

/** REQUEST_OUTCOMES are RequestTally's outcome fields, in the order metrics lists them. */
export const REQUEST_OUTCOMES = [
  'finished',
  'client_gone',
  'deadline',
  'shed',
  'shutdown',
  'cancelled',
] as const satisfies readonly (keyof RequestTally)[];

/** RequestOutcome is why a request context ended. */
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

/**
 * CacheTally counts one cache name's lookups (leashjs/cache) by tier and result. Every cache created
 * with the same name counts into the same tally; `name` is undefined for the tally shared by the
 * names past MAX_CACHE_TALLIES.
 */
export interface CacheTally {
  readonly name: string | undefined;
  memoryHit: number;
  memoryMiss: number;
  redisHit: number;
  redisMiss: number;
}

/**
 * MAX_CACHE_TALLIES bounds the distinct cache names with a tally of their own: a program that makes
 * caches with ever new names keeps a bounded table (metrics caps its labels lower still).
 */
export const MAX_CACHE_TALLIES = 1000;

interface Tallies {
  readonly requests: RequestTally;
  readonly caches: Map<string, CacheTally>;
  readonly otherCaches: CacheTally;
  /** shedResponses holds the responses shedLoad answered 503, so their request ends as `shed`. */
  readonly shedResponses: WeakSet<object>;
}

const KEY = Symbol.for('leash.tallies.v1');
const holder = globalThis as { [KEY]?: Tallies };
const tallies: Tallies = (holder[KEY] ??= {
  requests: { started: 0, finished: 0, client_gone: 0, deadline: 0, shed: 0, shutdown: 0, cancelled: 0 },
  caches: new Map(),
  otherCaches: newCacheTally(undefined),
  shedResponses: new WeakSet(),
});

function newCacheTally(name: string | undefined): CacheTally {
  return { name, memoryHit: 0, memoryMiss: 0, redisHit: 0, redisMiss: 0 };
}

/** requestTally is the process's request tally (one object for the life of the process). */
export const requestTally: RequestTally = tallies.requests;

/** cacheTally returns the tally of the caches named `name`, made at the first call for that name. */
export function cacheTally(name: string): CacheTally {
  let t = tallies.caches.get(name);
  if (t !== undefined) return t;
  if (tallies.caches.size >= MAX_CACHE_TALLIES) return tallies.otherCaches;
  t = newCacheTally(name);
  tallies.caches.set(name, t);
  return t;
}

/** cacheTallies lists every cache tally, the shared one for names past the cap last. */
export function cacheTallies(): CacheTally[] {
  return [...tallies.caches.values(), tallies.otherCaches];
}

/** markShed records that `res` was answered 503 by load shedding (its request ends as `shed`). */
export function markShed(res: object): void {
  tallies.shedResponses.add(res);
}

/**
 * requestOutcome names why a request context ended, from its cause's code (leashjs/http's errors):
 * finished, client_gone, deadline, shutdown; anything else (a cancel by user code) is cancelled.
 * One table for every layer that reads `leash:http:request-end` (metrics, the dashboard).
 */
export function requestOutcome(cause: unknown): RequestOutcome {
  const code = typeof cause === 'object' && cause !== null ? (cause as { code?: unknown }).code : undefined;
  return (
    (typeof code === 'string' && Object.hasOwn(OUTCOME_BY_CODE, code) && OUTCOME_BY_CODE[code]) || 'cancelled'
  );
}
const OUTCOME_BY_CODE: Readonly<Record<string, RequestOutcome>> = {
  LEASH_ERR_RESPONSE_FINISHED: 'finished',
  LEASH_ERR_CLIENT_GONE: 'client_gone',
  LEASH_ERR_DEADLINE_EXCEEDED: 'deadline',
  LEASH_ERR_SERVER_SHUTDOWN: 'shutdown',
};

/**
 * requestEndOutcome names why the request answered on `res` ended: `shed` when shedLoad answered it
 * 503 (markShed), else requestOutcome(cause).
 */
export function requestEndOutcome(res: { readonly statusCode?: number }, cause: unknown): RequestOutcome {
  const outcome = requestOutcome(cause);
  return outcome === 'finished' && res.statusCode === 503 && tallies.shedResponses.has(res)
    ? 'shed'
    : outcome;
}
