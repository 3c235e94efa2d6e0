import { describe, invalidArg } from './internal.js';

const canceledBrand = Symbol.for('leash.CanceledError');
const deadlineBrand = Symbol.for('leash.DeadlineExceededError');

// Error's constructor converts its message and reads `options.cause`: a symbol, an object whose
// toString throws or a revoked proxy would escape as a raw TypeError. Check first.
function checkArgs(message: unknown, options: unknown, where: string): void {
  if (message !== undefined && typeof message !== 'string') {
    throw invalidArg(`${where}: message must be a string, got ${describe(message)}`);
  }
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw invalidArg(`${where}: options must be an object such as { cause }, got ${describe(options)}`);
  }
}

/**
 * CanceledError is `ctx.err` of a context that was cancelled (Go's `context.Canceled`). Its name is
 * `'AbortError'`, so code written for `AbortSignal` recognises it. Test for it with
 * {@link isCanceled} (which also looks through `.cause` chains), never by identity, and read the
 * reason with `cause(ctx)`.
 *
 * Every cancelled context has its own instance, shared only with the descendants cancelled
 * together with it (Go's rule: a child cancelled through its parent has the parent's err): a
 * framework that decorates the error it catches (Koa writes `status` and `expose`) changes only
 * that one. leash makes it on the first read of `ctx.err`, without a stack trace (a stack would
 * cost microseconds per cancel and say nothing: the cancel's site is not where the error is read).
 */
export class CanceledError extends Error {
  /** code is stable across releases: `'LEASH_ERR_CANCELED'`. */
  declare readonly code: 'LEASH_ERR_CANCELED';
  constructor(message?: string, options?: ErrorOptions) {
    checkArgs(message, options, 'new CanceledError(message, options)');
    try {
      super(message ?? 'context canceled', options);
    } catch (cause) {
      // Error reads options.cause: a proxy trap that throws, or a revoked proxy.
      throw Object.assign(invalidArg(`new CanceledError(message, options): options cannot be read`), {
        cause,
      });
    }
    (this as { code: string }).code = 'LEASH_ERR_CANCELED';
  }
  /** @internal Recognised across copies of leash in one process. */
  get [canceledBrand](): true {
    return true;
  }
}
Object.defineProperty(CanceledError.prototype, 'name', {
  value: 'AbortError',
  writable: true,
  configurable: true,
});

/**
 * DeadlineExceededError is `ctx.err` of a context whose deadline passed (Go's
 * `context.DeadlineExceeded`). Its name is `'TimeoutError'`, as for `AbortSignal.timeout`, and
 * `timeout` is `true`. Like {@link CanceledError}, each expired context has its own stack-less
 * instance, shared with the descendants that expired with it; test for it with
 * {@link isDeadlineExceeded}.
 */
export class DeadlineExceededError extends Error {
  /** code is stable across releases: `'LEASH_ERR_DEADLINE_EXCEEDED'`. */
  declare readonly code: 'LEASH_ERR_DEADLINE_EXCEEDED';
  /** timeout is always true, for libraries that test `err.timeout`. */
  declare readonly timeout: true;
  constructor(message?: string, options?: ErrorOptions) {
    checkArgs(message, options, 'new DeadlineExceededError(message, options)');
    try {
      super(message ?? 'context deadline exceeded', options);
    } catch (cause) {
      // Error reads options.cause: a proxy trap that throws, or a revoked proxy.
      throw Object.assign(invalidArg(`new DeadlineExceededError(message, options): options cannot be read`), {
        cause,
      });
    }
    (this as { code: string }).code = 'LEASH_ERR_DEADLINE_EXCEEDED';
    (this as { timeout: boolean }).timeout = true;
  }
  /** @internal Recognised across copies of leash in one process. */
  get [deadlineBrand](): true {
    return true;
  }
}
Object.defineProperty(DeadlineExceededError.prototype, 'name', {
  value: 'TimeoutError',
  writable: true,
  configurable: true,
});

// The errors of cancelled contexts. Constructing an Error costs about 0.5 us on Node 20 even with
// Error.stackTraceLimit = 0 (V8's runtime call and stack accessor), several times a whole
// derive+cancel; Go's WithCancel costs about 0.2 us. So ctx.err is made by a small class whose
// prototype chain runs through CanceledError.prototype: `instanceof CanceledError` and
// `instanceof Error` hold, and name, message, code and a one-line own `stack` read as those of a
// stack-less native error (Node's unhandled-rejection and inspect paths treat an object with an
// own `stack` as an error), for about the price of an object literal
// (bench/context-errors.bench.ts). The one difference: it is not a V8 native error
// (util.types.isNativeError() is false; structuredClone copies it as a plain object).
// Class fields, not assignments: they define own properties whatever the prototypes hold.
class ContextCanceled {
  code = 'LEASH_ERR_CANCELED';
  stack = 'AbortError: context canceled';
}
class ContextDeadlineExceeded {
  code = 'LEASH_ERR_DEADLINE_EXCEEDED';
  timeout = true;
  stack = 'TimeoutError: context deadline exceeded';
}
function extend(cls: Function, base: Function, message: string): void {
  Object.setPrototypeOf(cls.prototype, base.prototype);
  Object.defineProperties(cls.prototype, {
    constructor: { value: base, writable: true, configurable: true },
    message: { value: message, writable: true, configurable: true },
  });
}
extend(ContextCanceled, CanceledError, 'context canceled');
extend(ContextDeadlineExceeded, DeadlineExceededError, 'context deadline exceeded');

/** @internal Why a context ended on its own: cancelled, or its deadline passed. */
export const CANCELED_KIND = 0;
/** @internal */
export const DEADLINE_KIND = 1;

/** @internal A fresh, stack-less ctx.err of the given kind (see above). */
export function contextError(kind: number): Error {
  return (kind === DEADLINE_KIND ? new ContextDeadlineExceeded() : new ContextCanceled()) as unknown as Error;
}

function holds(e: unknown, brand: symbol, cls: Function): boolean {
  try {
    for (let depth = 0; depth < 32 && e !== null && typeof e === 'object'; depth++) {
      if (e instanceof cls || (e as Record<symbol, unknown>)[brand] === true) return true;
      e = (e as { cause?: unknown }).cause;
    }
  } catch {
    // A revoked proxy or a throwing getter in the chain: whatever it is, it is not ours.
  }
  return false;
}

/**
 * isCanceled reports whether `e` is a {@link CanceledError}, or wraps one anywhere in its `.cause`
 * chain (like Go's `errors.Is(err, context.Canceled)`). Never throws.
 */
export function isCanceled(e: unknown): boolean {
  return holds(e, canceledBrand, CanceledError);
}

/**
 * isDeadlineExceeded reports whether `e` is a {@link DeadlineExceededError}, or wraps one anywhere
 * in its `.cause` chain. Never throws.
 */
export function isDeadlineExceeded(e: unknown): boolean {
  return holds(e, deadlineBrand, DeadlineExceededError);
}
