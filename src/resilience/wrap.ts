import type { Context } from '../context/index.js';
import { describe, invalidArg } from '../context/internal.js';
import { execute, type InnerPolicy, isPolicy, type Policy, proceed, RACES, RUN } from './policy.js';

/**
 * wrap composes policies into one, outermost first, like cockatiel's wrap:
 * `wrap(retry, breaker, timeout).execute(ctx, fn)` retries calls through the breaker, each attempt
 * under its own timeout. The composition races the caller's context once, at the outside, and
 * the built-in policies pass the rest of the chain along without a closure per layer, so wrapping
 * costs no extra promise race; a caller whose context ends still
 * gets ctx.err at once. Order matters as it does in cockatiel: a timeout inside a breaker is seen
 * by the breaker as a failure of the call. Whatever the order, a bulkhead's or adaptive limit's
 * permit is held until the calls of fn made under it have settled.
 *
 * @example
 * const policy = wrap(retry({ maxAttempts: 3 }), circuitBreaker({ failureRate: 0.5 }), timeout(1_000));
 * const user = await policy.execute(ctx, (ctx) => fetchUser(ctx, id));
 */
export function wrap(...policies: Policy[]): Policy {
  for (let i = 0; i < policies.length; i++) {
    if (!isPolicy(policies[i])) {
      throw invalidArg(
        `wrap(...policies): policies[${i}] must be a Policy (an object with execute()), got ${describe(policies[i])}`,
      );
    }
  }
  // A built-in wrap inside another is the same chain: flattened, it costs nothing per call.
  const list: Policy[] = [];
  for (const p of policies) {
    if (p instanceof WrappedPolicy) list.push(...p.policies);
    else list.push(p);
  }
  return new WrappedPolicy(list);
}

class WrappedPolicy implements InnerPolicy {
  readonly #policies: Policy[];
  /**
   * @internal
   * A chain of built-in policies with a racing one (a timeout) anywhere in it needs no race of
   * its own: inside the timeout the work is raced, and every other built-in policy waits only
   * through things that end with the context (sleep, a bulkhead's queue, the inner policy), so
   * the caller is still answered with ctx.err at once.
   */
  readonly [RACES]: boolean;
  constructor(policies: Policy[]) {
    this.#policies = policies;
    this[RACES] = policies.every((p) => RUN in p) && policies.some((p) => (p as InnerPolicy)[RACES] === true);
  }

  execute<T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T> {
    return execute(this, ctx, fn, 'wrap(...).execute(ctx, fn)');
  }

  [RUN]<T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T> {
    return proceed(ctx, fn, this.#policies, 0);
  }

  /** @internal The policies, for flattening a wrap inside a wrap. */
  get policies(): readonly Policy[] {
    return this.#policies;
  }
}
