// The errors leashjs/cache rejects with. Each has a stable code and says what to do next. A caller
// whose own context ended gets its ctx.err, never one of these.

/**
 * LoadTimeoutError is the rejection every waiter of a load gets when the loader did not settle
 * within the cache's `loadTimeoutMs`. The loader's context was cancelled at that moment (its
 * `ctx.err` is a DeadlineExceededError, which is this error's `cause`); nothing was stored.
 */
export class LoadTimeoutError extends Error {
  /** code is stable across releases: `'LEASH_ERR_CACHE_LOAD_TIMEOUT'`. */
  readonly code = 'LEASH_ERR_CACHE_LOAD_TIMEOUT';
  /** key is the key being loaded; timeoutMs the cache's loadTimeoutMs. */
  readonly key: string;
  readonly timeoutMs: number;
  constructor(name: string, key: string, timeoutMs: number, cause: unknown) {
    super(
      `${name}: the loader for key ${JSON.stringify(key.length > 60 ? `${key.slice(0, 60)}...` : key)} did not settle within loadTimeoutMs (${timeoutMs} ms); make the loader honour its ctx or raise loadTimeoutMs`,
      { cause },
    );
    this.name = 'LoadTimeoutError';
    this.key = key;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * LoadAbandonedError is the cancellation cause of a loader's context (read it with `cause(ctx)`)
 * when every caller waiting for that load gave up before it settled: the loader's `ctx.err` is a
 * CanceledError and its result, if it still arrives, is not stored. No caller ever receives it.
 */
export class LoadAbandonedError extends Error {
  /** code is stable across releases: `'LEASH_ERR_CACHE_LOAD_ABANDONED'`. */
  readonly code = 'LEASH_ERR_CACHE_LOAD_ABANDONED';
  readonly key: string;
  constructor(name: string, key: string) {
    super(`${name}: every caller waiting for key ${JSON.stringify(key)} gave up, so its load was cancelled`);
    this.name = 'LoadAbandonedError';
    this.key = key;
  }
}
