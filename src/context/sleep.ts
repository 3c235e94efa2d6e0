import { watch } from './cancel-tree.js';
import type { Context } from './context.js';
import { hold, release } from './deadline-timers.js';
import { assertContext } from './internal.js';
import { endWait, startWait } from './wait-events.js';
import { toTimeoutMs } from './with-deadline.js';

// setTimeout's largest delay; a longer sleep waits in steps, measured on the monotonic clock.
const TIMEOUT_MAX = 2 ** 31 - 1;

/**
 * sleep resolves after `ms` milliseconds, or rejects with `ctx.err` as soon as `ctx` is done,
 * whichever comes first. Either way it leaves no timer and no listener behind. While it waits, its
 * timer keeps the process alive, as `setTimeout` does. `sleep(ctx, Infinity)` waits for `ctx` alone
 * (and keeps the process alive only until `ctx`'s deadline, if it has one). Any finite duration
 * works: beyond setTimeout's limit (about 24.8 days) it waits in steps. Durations and the
 * context's deadline run on the monotonic clock: a step of the system clock moves neither.
 *
 * @example
 * for (;;) {
 *   await poll();
 *   await sleep(ctx, 1_000); // rejects with ctx.err on shutdown
 * }
 */
export function sleep(ctx: Context, ms: number): Promise<void> {
  assertContext(ctx, 'sleep(ctx, ms)');
  const delay = toTimeoutMs(ms, 'sleep(ctx, ms)');
  const err = ctx.err;
  if (err !== undefined) return Promise.reject(err);
  return new Promise<void>((resolve, reject) => {
    const msg = startWait('sleep', ctx);
    let timer: NodeJS.Timeout | null = null;
    let held = false;
    const w = watch(ctx, (o) => {
      if (timer !== null) clearTimeout(timer);
      if (held) release();
      endWait(msg);
      reject(o._errNow());
    });
    if (delay === Number.POSITIVE_INFINITY) {
      if (w !== null && ctx.deadline !== undefined) {
        hold();
        held = true;
      }
    } else {
      const end = performance.now() + delay;
      const wake = (): void => {
        const left = end - performance.now();
        if (left > 0 && delay > TIMEOUT_MAX) {
          timer = setTimeout(wake, Math.min(TIMEOUT_MAX, Math.ceil(left)));
          return;
        }
        w?.stop();
        endWait(msg);
        resolve();
      };
      timer = setTimeout(wake, Math.min(TIMEOUT_MAX, delay));
    }
  });
}
