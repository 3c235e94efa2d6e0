// How each fault acts on a call, shared by every integration: the waits end with the caller's
// context (sleep leaves nothing registered once it settles), the errors are new per injection.
import { type Context, sleep } from '../context/index.js';
import type { ChaosDecision } from './controller.js';
import { ChaosError } from './errors.js';

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

/** @internal injectedError is what an error decision fails the call with. */
export function injectedError(name: string, d: ChaosDecision): unknown {
  const spec = d.spec.type === 'error' ? d.spec : undefined;
  const own = spec?.error;
  if (typeof own === 'function') return (own as () => unknown)();
  if (own !== undefined) return own;
  return new ChaosError(spec?.message ?? `${name}: injected error`, 'error', spec?.status ?? 500);
}

/** @internal dropError is what a drop decision fails a call with where there is no socket to destroy. */
export function dropError(name: string): ChaosError {
  const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  return new ChaosError(`${name}: injected dropped connection`, 'drop', 502, { cause: reset });
}
