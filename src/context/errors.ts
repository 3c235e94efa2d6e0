const canceledBrand = Symbol.for('leash.CanceledError');
const deadlineBrand = Symbol.for('leash.DeadlineExceededError');

/**
 * CanceledError is `ctx.err` of a context that was cancelled (Go's `context.Canceled`). Its name is
 * `'AbortError'`, so code written for `AbortSignal` recognises it. leash uses one shared instance
 * for every cancelled context, as Go does: compare with {@link isCanceled}, not by identity, and
 * read the reason with `cause(ctx)`.
 */
export class CanceledError extends Error {
  /** code is stable across releases: `'LEASH_ERR_CANCELED'`. */
  readonly code = 'LEASH_ERR_CANCELED';
  constructor(message = 'context canceled', options?: ErrorOptions) {
    super(message, options);
    this.name = 'AbortError';
  }
  /** @internal Recognised across copies of leash in one process. */
  get [canceledBrand](): true {
    return true;
  }
}

/**
 * DeadlineExceededError is `ctx.err` of a context whose deadline passed (Go's
 * `context.DeadlineExceeded`). Its name is `'TimeoutError'`, as for `AbortSignal.timeout`, and
 * `timeout` is `true`. leash uses one shared instance; compare with {@link isDeadlineExceeded}.
 */
export class DeadlineExceededError extends Error {
  /** code is stable across releases: `'LEASH_ERR_DEADLINE_EXCEEDED'`. */
  readonly code = 'LEASH_ERR_DEADLINE_EXCEEDED';
  /** timeout is always true, for libraries that test `err.timeout`. */
  readonly timeout = true;
  constructor(message = 'context deadline exceeded', options?: ErrorOptions) {
    super(message, options);
    this.name = 'TimeoutError';
  }
  /** @internal Recognised across copies of leash in one process. */
  get [deadlineBrand](): true {
    return true;
  }
}

// The shared sentinels. Creating an Error captures a stack trace, which costs microseconds; a
// cancel costs tens of nanoseconds, so, like Go, every context shares these two.
//
// They are deliberately not frozen: frameworks decorate the errors they catch (Koa writes
// `status`, `expose` and `headerSent`), and a frozen error turns `throw ctx.err` in a handler into
// a TypeError inside the framework. Code that wants to annotate one should wrap it instead
// (`new Error('lookup failed', { cause: ctx.err })`); isCanceled() follows the cause chain.
function sentinel<E extends Error>(make: () => E): E {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
/** @internal */
export const CANCELED: CanceledError = sentinel(() => new CanceledError());
/** @internal */
export const DEADLINE_EXCEEDED: DeadlineExceededError = sentinel(() => new DeadlineExceededError());

function holds(e: unknown, brand: symbol, cls: Function): boolean {
  for (let depth = 0; depth < 32 && e !== null && typeof e === 'object'; depth++) {
    if (e instanceof cls || (e as Record<symbol, unknown>)[brand] === true) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * isCanceled reports whether `e` is a {@link CanceledError}, or wraps one anywhere in its `.cause`
 * chain (like Go's `errors.Is(err, context.Canceled)`).
 */
export function isCanceled(e: unknown): boolean {
  return holds(e, canceledBrand, CanceledError);
}

/**
 * isDeadlineExceeded reports whether `e` is a {@link DeadlineExceededError}, or wraps one anywhere
 * in its `.cause` chain.
 */
export function isDeadlineExceeded(e: unknown): boolean {
  return holds(e, deadlineBrand, DeadlineExceededError);
}

/** @internal A TypeError with the stable code LEASH_ERR_INVALID_ARG. */
export function invalidArg(message: string): TypeError {
  const e = new TypeError(message) as TypeError & { code: string };
  e.code = 'LEASH_ERR_INVALID_ARG';
  return e;
}
