// The chaos controller: the one object every integration (policy, middlewares, fetch, pg) asks
// "inject something into this call?", switched and reconfigured at run time.
import type { Context } from '../context/index.js';
import { assertContext, describe, invalidArg } from '../context/internal.js';
import type { ChaosFault } from './errors.js';
import { type ChaosVia, injectedChannel } from './events.js';
import { mulberry32 } from './prng.js';
import { type ChaosSpec, type CheckedSpec, checkSpec, type FaultSpec, noExtraArgs } from './spec.js';

/** ChaosDecision is a fault chosen for one call. */
export interface ChaosDecision {
  /** fault is the kind of fault to inject. */
  readonly fault: ChaosFault;
  /** seq is the number of the decision that chose it (1 for the first since the last seed). */
  readonly seq: number;
  /** ms is the delay (latency) or busy time (cpu) drawn for this call; undefined for other faults. */
  readonly ms: number | undefined;
  /** spec is the fault as configured. */
  readonly spec: FaultSpec;
}

/** ChaosJSON is what toJSON() returns and the chaos handler serves. */
export interface ChaosJSON {
  readonly name: string;
  readonly enabled: boolean;
  readonly seed: number;
  readonly target: {
    readonly header?: string;
    /** key is true when a key function is set (a function cannot travel as JSON). */
    readonly key: boolean;
    readonly keys?: string[];
    readonly fraction: number;
  };
  /** faults as configured; an error fault's own `error` is shown as `"error": true`. */
  readonly faults: Record<string, unknown>[];
  /** decisions counts the calls that passed the header and key conditions since the last seed (each draws); injected counts faults by kind. */
  readonly decisions: number;
  readonly injected: Readonly<Record<ChaosFault, number>>;
}

/**
 * HeaderSource is a request's headers, in one of the forms a request carries them: an object of
 * header names to values (node's `req.headers`; a value that is an array counts by its first
 * element), a fetch `Headers` or a `Map` (anything with `get(name)`), or an array of `[name, value]`
 * pairs (what `new Headers(init)` takes; the first pair with the name counts). Header names match
 * in any case, as HTTP's do.
 */
export type HeaderSource =
  | { get(name: string): string | null | undefined }
  | Readonly<Record<string, string | readonly string[] | undefined>>
  | readonly (readonly [string, string])[];

/** @internal The integrations' entry: decide for one call and publish what was chosen. */
export const DECIDE: unique symbol = Symbol('leash.chaos.decide');

const OFF = new Set(['', '0', 'false', 'off', 'no']);

/**
 * chaosController returns a ChaosController for `spec` (validated strictly: an unknown field, a
 * probability outside [0, 1], faults adding up to more than 1, an error fault with both its own
 * error and a status or message, a second argument throw a TypeError with code
 * LEASH_ERR_INVALID_ARG). Hand the controller to chaos() (a Policy), chaosMiddleware(),
 * chaosKoa(), chaosFastify(), withChaos(), chaosFetch() and chaosQuery(), and to chaosHandler() to
 * switch it at run time; one controller may serve them all, and its seeded generator is shared, so
 * one seed replays the whole run's decisions when the calls come in the same order.
 *
 * @example
 * const controller = chaosController({
 *   seed: 42,
 *   target: { header: 'x-leash-chaos' },
 *   faults: [{ type: 'latency', probability: 0.2, minMs: 50, maxMs: 250 }, { type: 'error', probability: 0.05, status: 503 }],
 * });
 */
export function chaosController(spec?: ChaosSpec): ChaosController {
  // biome-ignore lint/complexity/noArguments: an argument past the spec is reported, not ignored.
  noExtraArgs(arguments, 1, 'chaosController(spec)', 'one argument, the spec');
  return new ChaosController(spec ?? {}, 'chaosController(spec)');
}

/**
 * ChaosController holds a chaos spec, its seeded generator and its counters. enable(), disable() and
 * update() take effect for the next call; a call already waiting out a fault is not touched. It
 * holds no timer, no listener and no reference to any call, so an idle controller costs nothing.
 */
export class ChaosController {
  #spec: CheckedSpec;
  #next: () => number;
  #decisions = 0;
  #injected: Record<ChaosFault, number> = { latency: 0, error: 0, hang: 0, drop: 0, cpu: 0 };

  /** Use chaosController(spec). */
  constructor(spec: ChaosSpec, where = 'new ChaosController(spec)') {
    this.#spec = checkSpec(spec, undefined, where);
    this.#next = mulberry32(this.#spec.seed);
  }

  /** name is the controller's name, from the spec. */
  get name(): string {
    return this.#spec.name;
  }

  /** enabled reports whether faults are being injected. */
  get enabled(): boolean {
    return this.#spec.enabled;
  }

  /** enable turns injection on (a second call does nothing). */
  enable(): void {
    if (!this.#spec.enabled) this.#spec = Object.freeze({ ...this.#spec, enabled: true });
  }

  /** disable turns injection off: every call runs untouched and draws nothing from the generator. */
  disable(): void {
    if (this.#spec.enabled) this.#spec = Object.freeze({ ...this.#spec, enabled: false });
  }

  /**
   * update applies `patch`: a field it names replaces the current one (target merges field by
   * field, null removes a target field or the whole target), the rest stays. The patch is checked
   * as a whole before anything changes: on a TypeError (LEASH_ERR_INVALID_ARG) the controller is
   * as it was. A patch with `seed` restarts the decision sequence and the counters; one without
   * continues it.
   */
  update(patch: ChaosSpec): void {
    const next = checkSpec(patch, this.#spec, 'ChaosController.update(patch)');
    this.#spec = next;
    if (Object.hasOwn(patch, 'seed') && patch.seed !== undefined) {
      this.#next = mulberry32(next.seed);
      this.#decisions = 0;
      this.#injected = { latency: 0, error: 0, hang: 0, drop: 0, cpu: 0 };
    }
  }

  /**
   * decide draws the decision for one call with context `ctx` (and the request's `headers`, for a
   * target with a header; undefined or null for none) and returns the fault to inject, or
   * undefined. It advances the seeded sequence exactly as an integration's call does and publishes
   * `leash:chaos:injected` with via 'decide': use it to drive chaos from code leash does not wrap.
   * `headers` is a HeaderSource, its names matched in any case; anything else (a string, a number,
   * a pair that is not two strings, a value that is not a string or an array of strings) throws a
   * TypeError with code LEASH_ERR_INVALID_ARG, whatever the target, and draws nothing.
   */
  decide(ctx: Context, headers?: HeaderSource): ChaosDecision | undefined {
    const where = 'ChaosController.decide(ctx, headers)';
    assertContext(ctx, where);
    if (headers !== undefined && headers !== null) checkHeaders(headers, where);
    return this[DECIDE](ctx, 'decide', headers);
  }

  /** @internal */
  [DECIDE](ctx: Context, via: ChaosVia, headers?: HeaderSource): ChaosDecision | undefined {
    const s = this.#spec;
    if (!s.enabled || s.faults.length === 0) return undefined;
    const t = s.target;
    if (t.header !== undefined && !headerOn(headers, t.header, via === 'decide')) return undefined;
    if (t.key !== undefined) {
      const k = t.key(ctx);
      if (typeof k !== 'string' || (t.keys !== undefined && !t.keys.has(k))) return undefined;
    }
    const seq = ++this.#decisions;
    if (t.fraction < 1 && this.#next() >= t.fraction) return undefined;
    const u = this.#next();
    for (const f of s.faults) {
      if (u >= f.upTo) continue;
      if (f.probability === 0) continue;
      const ms = this.#ms(f.spec);
      this.#injected[f.type]++;
      if (injectedChannel.hasSubscribers) {
        injectedChannel.publish(Object.freeze({ name: s.name, fault: f.type, via, seq, ms }));
      }
      return Object.freeze({ fault: f.type, seq, ms, spec: f.spec });
    }
    return undefined;
  }

  #ms(f: FaultSpec): number | undefined {
    if (f.type === 'cpu') return f.ms;
    if (f.type !== 'latency') return undefined;
    if (f.ms !== undefined) return f.ms;
    if (f.meanMs !== undefined) return Math.min(-Math.log(1 - this.#next()) * f.meanMs, f.meanMs * 100);
    const min = f.minMs ?? 0;
    return min + this.#next() * ((f.maxMs ?? min) - min);
  }

  /** toJSON returns the spec and the counters as plain JSON (what the chaos handler serves on GET). */
  toJSON(): ChaosJSON {
    const s = this.#spec;
    const t = s.target;
    return {
      name: s.name,
      enabled: s.enabled,
      seed: s.seed,
      target: {
        ...(t.header !== undefined ? { header: t.header } : {}),
        key: t.key !== undefined,
        ...(t.keys !== undefined ? { keys: [...t.keys] } : {}),
        fraction: t.fraction,
      },
      faults: s.faults.map((f) => {
        const o: Record<string, unknown> = { ...f.spec };
        if (o.error !== undefined) o.error = true;
        return o;
      }),
      decisions: this.#decisions,
      injected: { ...this.#injected },
    };
  }
}

/**
 * headerOn reports whether `headers` carry header `name` (lower case) with a value that is not off.
 * The integrations hand node's req.headers (names already lower case) or a fetch Headers (which
 * ignores case), so only a user's headers (`anyCase`, from decide()) pay for a search in any case.
 */
function headerOn(headers: HeaderSource | undefined, name: string, anyCase: boolean): boolean {
  if (headers === undefined || headers === null) return false;
  let v: unknown;
  if (Array.isArray(headers)) {
    v = (headers as readonly (readonly [string, string])[]).find((p) => p[0].toLowerCase() === name)?.[1];
  } else if (headers instanceof Map) {
    v = headers.get(name);
    if (v === undefined && anyCase) {
      for (const [k, value] of headers) {
        if (typeof k === 'string' && k.toLowerCase() === name) {
          v = value;
          break;
        }
      }
    }
  } else if (typeof (headers as { get?: unknown }).get === 'function') {
    v = (headers as { get(n: string): string | null }).get(name);
  } else {
    const record = headers as Record<string, unknown>;
    v = record[name];
    if (v === undefined && anyCase) {
      for (const k in record) {
        if (Object.hasOwn(record, k) && k.toLowerCase() === name) {
          v = record[k];
          break;
        }
      }
    }
  }
  if (Array.isArray(v)) v = v[0];
  return typeof v === 'string' && !OFF.has(v.trim().toLowerCase());
}

/** checkHeaders throws LEASH_ERR_INVALID_ARG unless `headers` is a HeaderSource (see decide()). */
function checkHeaders(headers: unknown, where: string): void {
  if (typeof headers !== 'object' || headers === null) {
    throw invalidArg(
      `${where}: headers must be the request's headers: an object of names to values (such as node's req.headers), a fetch Headers (or another object with get(name)) or an array of [name, value] pairs, got ${describe(headers)}`,
    );
  }
  if (Array.isArray(headers)) {
    headers.forEach((p: unknown, i) => {
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string' || typeof p[1] !== 'string') {
        throw invalidArg(
          `${where}: headers[${i}] must be a [name, value] pair of strings, got ${describe(p)}`,
        );
      }
    });
    return;
  }
  if (typeof (headers as { get?: unknown }).get === 'function') return;
  // for...in rather than Object.entries: decide() with a small object allocates nothing here.
  for (const k in headers) {
    if (!Object.hasOwn(headers, k)) continue;
    const v = (headers as Record<string, unknown>)[k];
    if (v === undefined || typeof v === 'string') continue;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) continue;
    throw invalidArg(
      `${where}: headers[${JSON.stringify(k)}] must be a string or an array of strings, got ${describe(v)}`,
    );
  }
}
