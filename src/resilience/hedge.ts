import { afterFunc, CanceledError, type Context, withCancelCause, withTimeout } from '../context/index.js';
import { assertNumber, assertOptions, invalidArg } from '../context/internal.js';
import { policyName, stackless } from './errors.js';
import { channels, publish } from './events.js';
import { execute, type InnerPolicy, invoke, RUN } from './policy.js';

/**
 * HedgeOptions configure hedge(): a fixed delay, or a percentile of recent latency, not a mix.
 * name labels events and messages: a non-empty string (default 'hedge').
 */
export type HedgeOptions =
  | { readonly afterMs: number; readonly name?: string }
  | {
      /** percentile of recent successful latency (a fraction, 0.95 for p95) after which to hedge. */
      readonly percentile: number;
      /** minSamples: no hedging until this many latencies are known. Default: 20. */
      readonly minSamples?: number;
      readonly name?: string;
    };

const SAMPLES = 1024;
// The percentile is recomputed (a sort of the samples) every this many samples.
const RECOMPUTE_EVERY = 64;

/**
 * hedge returns a policy that starts a second attempt of `fn` when the first has not settled
 * after `afterMs` (or the given `percentile` of recent successful latency), and answers with
 * whichever succeeds first; the other is cancelled at once (its context ends with a CanceledError
 * whose cause says it lost the race). If one attempt fails, the other is awaited; the call fails
 * when both have. The delay runs on the core's shared timer queue. A caller whose context ends
 * gets ctx.err at once and both attempts are cancelled. Hedge only idempotent calls. Inside a
 * bulkhead or adaptive limit, the second attempt needs a permit of its own. Options take one
 * form, { afterMs } or { percentile, minSamples? }: a mix (afterMs with minSamples, say) is
 * rejected with LEASH_ERR_INVALID_ARG rather than half ignored.
 *
 * @example
 * const read = hedge({ percentile: 0.95 });
 * const row = await read.execute(ctx, (ctx) => replica.get(ctx, id));
 */
export function hedge(options: HedgeOptions): HedgePolicy {
  const where = 'hedge(options)';
  const o = assertOptions(options as Record<string, unknown>, where, [
    'afterMs',
    'percentile',
    'minSamples',
    'name',
  ]);
  const name = policyName(o.name, where, 'hedge');
  const forms =
    'give { afterMs } (a fixed delay) or { percentile, minSamples? } (a percentile of recent latency)';
  if (o.afterMs !== undefined) {
    if (o.percentile !== undefined || o.minSamples !== undefined) {
      throw invalidArg(
        `${where}: afterMs cannot be mixed with ${o.percentile !== undefined ? 'percentile' : 'minSamples'}; ${forms}, not a mix`,
      );
    }
    assertNumber(o.afterMs, where, 'afterMs', { min: 0, unit: 'milliseconds' });
    return new HedgePolicy(o.afterMs, 0, 0, name);
  }
  if (o.percentile === undefined) {
    throw invalidArg(
      `${where}: options must have afterMs or percentile${o.minSamples !== undefined ? ' (minSamples goes with percentile)' : ''}; ${forms}`,
    );
  }
  assertNumber(o.percentile, where, 'percentile', { min: 0, max: 1, unit: 'a fraction' });
  const minSamples = (o.minSamples as number | undefined) ?? 20;
  assertNumber(minSamples, where, 'minSamples', { min: 1, max: SAMPLES, integer: true });
  return new HedgePolicy(Number.NaN, o.percentile, minSamples, name);
}

/** HedgePolicy is the policy made by hedge(). */
export class HedgePolicy implements InnerPolicy {
  readonly #fixed: number;
  readonly #percentile: number;
  readonly #minSamples: number;
  readonly #name: string;
  readonly #lost: CanceledError;
  #samples: Float64Array | null = null;
  #count = 0;
  #cached = Number.NaN;

  constructor(fixed: number, percentile: number, minSamples: number, name: string) {
    this.#fixed = fixed;
    this.#percentile = percentile;
    this.#minSamples = minSamples;
    this.#name = name;
    this.#lost = stackless(() => new CanceledError(`${name}: the other attempt answered first`));
  }

  /** delayMs is the current hedging delay (NaN while too few latencies are known). */
  get delayMs(): number {
    if (!Number.isNaN(this.#fixed)) return this.#fixed;
    return this.#cached;
  }

  execute<T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T> {
    return execute(this, ctx, fn, 'hedge(options).execute(ctx, fn)');
  }

  [RUN]<T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T> {
    const delay = this.delayMs;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let pending = 0;
      const cancels: ((cause?: unknown) => void)[] = [];
      let stopTimer: (() => void) | null = null;
      const finish = (): void => {
        settled = true;
        stopTimer?.();
        for (const c of cancels) c(this.#lost);
      };
      const start = (): void => {
        const [attemptCtx, cancel] = withCancelCause(ctx);
        cancels.push(cancel);
        pending++;
        const t0 = performance.now();
        invoke(fn, attemptCtx).then(
          (v) => {
            pending--;
            if (settled) return;
            this.#sample(performance.now() - t0);
            finish();
            resolve(v);
          },
          (e: unknown) => {
            pending--;
            if (settled) return;
            // Another attempt still running may yet succeed; with none, the call has failed (an
            // attempt that fails before the hedge is not hedged: that is retry's job).
            if (pending === 0) {
              finish();
              reject(e);
            }
          },
        );
      };
      start();
      if (Number.isNaN(delay) || settled) return;
      const [timerCtx, stop] = withTimeout(ctx, delay);
      const stopAfter = afterFunc(timerCtx, () => {
        stop();
        if (settled || ctx.err !== undefined) return;
        stopTimer = null;
        if (channels.hedge.hasSubscribers)
          publish(channels.hedge, () => ({ name: this.#name, afterMs: delay }));
        start();
      });
      stopTimer = () => {
        stopAfter();
        stop();
      };
    });
  }

  #sample(ms: number): void {
    if (!Number.isNaN(this.#fixed)) return;
    const s = (this.#samples ??= new Float64Array(SAMPLES));
    s[this.#count % SAMPLES] = ms;
    this.#count++;
    if (
      this.#count >= this.#minSamples &&
      (this.#count % RECOMPUTE_EVERY === 0 || Number.isNaN(this.#cached))
    ) {
      const n = Math.min(this.#count, SAMPLES);
      const sorted = s.slice(0, n).sort();
      this.#cached = sorted[Math.min(n - 1, Math.floor(this.#percentile * n))] as number;
    }
  }
}
