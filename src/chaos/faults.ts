// How each fault acts on a call, shared by every integration: the waits end with the caller's
// context (sleep leaves nothing registered once it settles), the errors are new per injection.
import { type Context, sleep } from '../context/index.js';
import { describe, invalidArg } from '../context/internal.js';
import type { ChaosDecision } from './controller.js';
import { ChaosError } from './errors.js';
import { isError } from './spec.js';

/**
 * @internal
 * delay returns the wait of a latency or hang decision (rejecting with ctx.err when ctx ends
 * first), burns the CPU of a cpu decision synchronously and returns undefined for it.
 */
export function delay(ctx: Context, d: ChaosDecision): Promise<void> | undefined {
  if (d.fault === 'latency') return sleep(ctx, d.ms ?? 0);
  // sleep(ctx, Infinity) waits for ctx alone and keeps the process alive only until its deadline.
  if (d.fault === 'hang') return sleep(ctx, Number.POSITIVE_INFINITY);
  if (d.fault === 'cpu') burn(d.ms ?? 0);
  return undefined;
}

/** @internal burn keeps the event loop busy for `ms` milliseconds, on the monotonic clock. */
export function burn(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // The point of a cpu fault: the thread does nothing else meanwhile.
  }
}

/**
 * @internal
 * injectedError is what an error decision fails the call with: the fault's own error, what its
 * error() returned, or a new ChaosError. Never throws, and never returns a non-Error: an error()
 * that returns one, or throws, gives a LEASH_ERR_INVALID_ARG naming the controller instead.
 */
export function injectedError(name: string, d: ChaosDecision): Error {
  const spec = d.spec.type === 'error' ? d.spec : undefined;
  const own = spec?.error;
  if (typeof own === 'function') {
    const must = `${name}: the error fault's error() must return the Error to inject (such as () => new Error('injected')), but it`;
    let made: unknown;
    try {
      made = (own as () => unknown)();
    } catch (cause) {
      return Object.assign(invalidArg(`${must} threw ${describe(cause)}; return it instead`), { cause });
    }
    if (isError(made)) return made;
    const err = invalidArg(`${must} returned ${describe(made)}`);
    return made === undefined ? err : Object.assign(err, { cause: made });
  }
  if (own !== undefined) return own as Error;
  return new ChaosError(spec?.message ?? `${name}: injected error`, 'error', spec?.status ?? 500);
}

/** @internal dropError is what a drop decision fails a call with where there is no socket to destroy. */
export function dropError(name: string): ChaosError {
  const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  return new ChaosError(`${name}: injected dropped connection`, 'drop', 502, { cause: reset });
}
