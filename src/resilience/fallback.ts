import type { Context } from '../context/index.js';
import { assertFunction, assertOptions } from '../context/internal.js';
import { type CallbackRule, callChecked, isBoolean } from './errors.js';
import { execute, type InnerPolicy, invoke, RUN } from './policy.js';
import { endedByPolicyTimeout } from './timeout.js';
import { SETTLES } from './work.js';

/** FallbackOptions configure fallback(). */
export interface FallbackOptions {
  /** handles says which errors get the fallback: true or false. Default: every error. */
  readonly handles?: (err: unknown) => boolean;
}

/**
 * fallback returns a policy that answers a failed call with `fn(ctx, err)` instead. A caller
 * whose context ended gets ctx.err, never the fallback: the call did not fail, the caller left.
 * A timeout policy inside it that fired is a failure, and gets the fallback. A `handles` that
 * throws or returns anything but a boolean is a bug in the caller's code: the fallback is not
 * used, and the call rejects with a TypeError (LEASH_ERR_INVALID_ARG) naming handles, whose
 * `cause` is the call's error (and `thrown` what handles threw).
 *
 * @example
 * const prices = wrap(fallback(async () => cachedPrices), timeout(200));
 * const p = await prices.execute(ctx, (ctx) => fetchPrices(ctx));
 */
export function fallback<R>(
  fn: (ctx: Context, err: unknown) => Promise<R> | R,
  options?: FallbackOptions,
): FallbackPolicy<R> {
  assertFunction(fn, 'fallback(fn)', 'fn');
  const opts = assertOptions(options, 'fallback(fn, options)', ['handles']);
  if (opts.handles !== undefined) assertFunction(opts.handles, 'fallback(fn, options)', 'options.handles');
  return new FallbackPolicy(fn, opts.handles);
}

const HANDLES: CallbackRule = {
  call: 'options.handles(err)',
  valid: isBoolean,
  expected: 'true or false',
  fix: "the fallback was not used. Fix handles; the call's error is this error's cause",
};

/** FallbackPolicy is the policy made by fallback(). */
export class FallbackPolicy<R> implements InnerPolicy {
  readonly #fn: (ctx: Context, err: unknown) => Promise<R> | R;
  readonly #handles: ((err: unknown) => boolean) | undefined;

  constructor(fn: (ctx: Context, err: unknown) => Promise<R> | R, handles?: (err: unknown) => boolean) {
    this.#fn = fn;
    this.#handles = handles;
  }

  // The fallback's value stands in for the call's: its type is the caller's to match (R), as in
  // cockatiel; the signature stays Policy's so that fallback() composes in wrap().
  execute<T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T> {
    return execute(this, ctx, fn, 'fallback(fn).execute(ctx, fn)');
  }

  /** @internal Its RUN settles once the work it started has. */
  readonly [SETTLES] = true;

  [RUN]<T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T> {
    return invoke(fn, ctx).then(undefined, (err: unknown) => {
      if (ctx.err !== undefined && !endedByPolicyTimeout(ctx)) throw err;
      if (
        this.#handles !== undefined &&
        !callChecked('fallback', HANDLES, err, this.#handles, undefined, err)
      )
        throw err;
      return this.#fn(ctx, err) as unknown as T;
    });
  }
}
