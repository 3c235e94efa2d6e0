// What a chaos controller injects, where, and how often: the spec, its strict validation (every
// mistake is a LEASH_ERR_INVALID_ARG naming the field, with a "did you mean" for a typo), and the
// checked form the controller decides from.
import { types } from 'node:util';
import type { Context } from '../context/index.js';
import { assertNumber, assertOneOf, assertOptions, describe, invalidArg } from '../context/internal.js';
import type { ChaosFault } from './errors.js';

/**
 * LatencyFault delays the call before it runs: by `ms`, by a uniform draw in [minMs, maxMs], or by
 * an exponential draw of mean `meanMs` (capped at 100 times the mean). Give exactly one of the three
 * forms. The wait ends early with ctx.err when the caller's context ends.
 */
export interface LatencyFault {
  readonly type: 'latency';
  /** probability is the fraction of calls in the blast radius that get this fault, in [0, 1]. */
  readonly probability: number;
  readonly ms?: number;
  readonly minMs?: number;
  readonly maxMs?: number;
  readonly meanMs?: number;
}

/**
 * ErrorFault fails the call without running it: with `error` when given, else a new ChaosError with
 * `message` and `status` (the HTTP status a middleware answers with; default 500). Give `error` or
 * status and message, not both (the spec is rejected: they would be ignored). `error` is an Error,
 * thrown as is, or a function called for each injection that returns the Error to inject; when the
 * function returns anything else or throws, the call fails with a TypeError (code
 * LEASH_ERR_INVALID_ARG) saying so, with what it threw as `cause`: never with a non-Error value.
 */
export interface ErrorFault {
  readonly type: 'error';
  readonly probability: number;
  readonly status?: number;
  readonly message?: string;
  readonly error?: Error | (() => Error);
}

/** HangFault never runs the call: it waits until the caller's context ends and rejects with ctx.err. */
export interface HangFault {
  readonly type: 'hang';
  readonly probability: number;
}

/**
 * DropFault drops the connection: a middleware destroys the request's socket, a fetch is cut once
 * its response headers arrive, a pg query fails with ConnectionError, a policy with a ChaosError.
 */
export interface DropFault {
  readonly type: 'drop';
  readonly probability: number;
}

/** CpuFault burns the CPU for `ms` milliseconds (a busy loop, the event loop blocked), then runs the call. */
export interface CpuFault {
  readonly type: 'cpu';
  readonly probability: number;
  readonly ms: number;
}

/** FaultSpec is one fault a controller may inject. */
export type FaultSpec = LatencyFault | ErrorFault | HangFault | DropFault | CpuFault;

/**
 * ChaosTarget is the blast radius: which calls chaos may touch. Every condition given must hold.
 * With none, every call is in it.
 */
export interface ChaosTarget {
  /**
   * header: only requests carrying this header (a value other than '', '0', 'false' or 'off') are
   * in the radius. Read by the middlewares from the incoming request and by chaosFetch from the
   * outgoing one; a policy or pg call has no headers, so a target with a header never selects it.
   */
  readonly header?: string;
  /**
   * key derives a key from the call's context (a tenant, a user id); a call whose key is not a
   * string is out. In a patch, true keeps the function already set and false removes it.
   */
  readonly key?: ((ctx: Context) => string | undefined) | boolean | null;
  /** keys: only calls whose key() is one of these are in (needs key). */
  readonly keys?: readonly string[] | null;
  /** fraction of the remaining calls in the radius, drawn per call from the seeded generator, in [0, 1]. Default: 1. */
  readonly fraction?: number;
}

/**
 * ChaosSpec configures a chaos controller. Faults are exclusive: one draw per call picks at most
 * one of them, so their probabilities must add up to at most 1.
 */
export interface ChaosSpec {
  /** name labels events, errors and the JSON. Default: 'chaos'. */
  readonly name?: string;
  /** seed of the decision generator, an integer from 0 to 2^32 - 1. Default: a random one (shown by toJSON(), to replay a run). */
  readonly seed?: number;
  /** enabled: whether faults are injected. Default: true. */
  readonly enabled?: boolean;
  /** target is the blast radius. Default: every call. */
  readonly target?: ChaosTarget | null;
  /** faults to inject, each with its probability. Default: none. */
  readonly faults?: readonly FaultSpec[];
}

/** @internal A checked fault, with the upper end of its slice of [0, 1). */
export interface CheckedFault {
  readonly type: ChaosFault;
  readonly probability: number;
  readonly upTo: number;
  readonly spec: FaultSpec;
}

/** @internal A checked target. */
export interface CheckedTarget {
  readonly header: string | undefined;
  readonly key: ((ctx: Context) => string | undefined) | undefined;
  readonly keys: ReadonlySet<string> | undefined;
  readonly fraction: number;
}

/** @internal The checked spec a controller decides from. */
export interface CheckedSpec {
  readonly name: string;
  readonly seed: number;
  readonly enabled: boolean;
  readonly target: CheckedTarget;
  readonly faults: readonly CheckedFault[];
}

const SPEC_KEYS = ['name', 'seed', 'enabled', 'target', 'faults'];
const TARGET_KEYS = ['header', 'key', 'keys', 'fraction'];
const FAULT_TYPES: readonly ChaosFault[] = ['latency', 'error', 'hang', 'drop', 'cpu'];
const FAULT_KEYS: Record<ChaosFault, readonly string[]> = {
  latency: ['type', 'probability', 'ms', 'minMs', 'maxMs', 'meanMs'],
  error: ['type', 'probability', 'status', 'message', 'error'],
  hang: ['type', 'probability'],
  drop: ['type', 'probability'],
  cpu: ['type', 'probability', 'ms'],
};
const MAX_MS = 2_147_483_647;
const HEADER = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/**
 * @internal
 * checkSpec validates `patch` over `base` (the current checked spec, or undefined for a new
 * controller): a field the patch names replaces the base's (target merges field by field, a null
 * removes one), the rest is kept. Throws LEASH_ERR_INVALID_ARG for the first mistake.
 */
export function checkSpec(patch: unknown, base: CheckedSpec | undefined, where: string): CheckedSpec {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    throw invalidArg(
      `${where}: spec must be an object such as { seed: 42, faults: [{ type: 'latency', probability: 0.1, ms: 100 }] }, got ${describe(patch)}`,
    );
  }
  const p = assertOptions(patch as ChaosSpec, where, SPEC_KEYS);
  const has = (k: string) => Object.hasOwn(p, k) && (p as Record<string, unknown>)[k] !== undefined;

  let name = base?.name ?? 'chaos';
  if (has('name')) {
    if (typeof p.name !== 'string' || p.name.length === 0 || p.name.length > 100) {
      throw invalidArg(
        `${where}: spec.name must be a non-empty string of at most 100 characters, got ${describe(p.name)}`,
      );
    }
    name = p.name;
  }
  let seed = base?.seed ?? randomSeed();
  if (has('seed')) {
    assertNumber(p.seed, where, 'spec.seed', { min: 0, max: 4_294_967_295, integer: true });
    seed = p.seed;
  }
  let enabled = base?.enabled ?? true;
  if (has('enabled')) {
    if (typeof p.enabled !== 'boolean') {
      throw invalidArg(`${where}: spec.enabled must be true or false, got ${describe(p.enabled)}`);
    }
    enabled = p.enabled;
  }
  const target = checkTarget(p.target, base?.target, where);
  const faults = has('faults') ? checkFaults(p.faults, where) : (base?.faults ?? []);
  return Object.freeze({ name, seed, enabled, target, faults });
}

function checkTarget(t: unknown, base: CheckedTarget | undefined, where: string): CheckedTarget {
  let header = base?.header;
  let key = base?.key;
  let keys = base?.keys;
  let fraction = base?.fraction ?? 1;
  if (t === null) {
    header = undefined;
    key = undefined;
    keys = undefined;
    fraction = 1;
  } else if (t !== undefined) {
    if (typeof t !== 'object' || Array.isArray(t)) {
      throw invalidArg(
        `${where}: spec.target must be an object such as { header: 'x-leash-chaos' } (or null for every call), got ${describe(t)}`,
      );
    }
    const o = assertOptions(t as ChaosTarget, `${where}: spec.target`, TARGET_KEYS);
    if (Object.hasOwn(o, 'header')) {
      const h = o.header;
      if (h === null || h === undefined) header = undefined;
      else if (typeof h !== 'string' || !HEADER.test(h.toLowerCase())) {
        throw invalidArg(
          `${where}: spec.target.header must be an HTTP header name such as 'x-leash-chaos', got ${describe(h)}`,
        );
      } else header = h.toLowerCase();
    }
    if (Object.hasOwn(o, 'key')) {
      // true keeps the function set in code, false removes it: what toJSON() shows, so a GET's
      // target can be sent back as a patch.
      const k = o.key as unknown;
      if (k === null || k === undefined || k === false) key = undefined;
      else if (k === true) {
        if (key === undefined) {
          throw invalidArg(
            `${where}: spec.target.key is true but no key function is set; set one in code (JSON cannot carry a function)`,
          );
        }
      } else if (typeof k !== 'function') {
        throw invalidArg(
          `${where}: spec.target.key must be a function of the context returning a string (for example (ctx) => ctx.value(tenantKey)), got ${describe(o.key)}`,
        );
      } else key = k as (ctx: Context) => string | undefined;
    }
    if (Object.hasOwn(o, 'keys')) {
      if (o.keys === null || o.keys === undefined) keys = undefined;
      else if (
        !Array.isArray(o.keys) ||
        o.keys.length > 10_000 ||
        !o.keys.every((k) => typeof k === 'string')
      ) {
        throw invalidArg(
          `${where}: spec.target.keys must be an array of at most 10000 strings, got ${describe(o.keys)}`,
        );
      } else keys = new Set(o.keys);
    }
    if (Object.hasOwn(o, 'fraction') && o.fraction !== undefined) {
      assertNumber(o.fraction, where, 'spec.target.fraction', { min: 0, max: 1 });
      fraction = o.fraction;
    }
  }
  if (keys !== undefined && key === undefined) {
    throw invalidArg(
      `${where}: spec.target.keys needs spec.target.key, the function that gives each call its key (set when the controller is made; JSON cannot carry a function)`,
    );
  }
  return Object.freeze({ header, key, keys, fraction });
}

function checkFaults(faults: unknown, where: string): readonly CheckedFault[] {
  if (!Array.isArray(faults) || faults.length > 16) {
    throw invalidArg(
      `${where}: spec.faults must be an array of at most 16 faults such as [{ type: 'error', probability: 0.05 }], got ${describe(faults)}`,
    );
  }
  const out: CheckedFault[] = [];
  let upTo = 0;
  faults.forEach((f: unknown, i) => {
    const at = `spec.faults[${i}]`;
    if (typeof f !== 'object' || f === null || Array.isArray(f)) {
      throw invalidArg(
        `${where}: ${at} must be an object such as { type: 'hang', probability: 0.01 }, got ${describe(f)}`,
      );
    }
    const type = (f as { type?: unknown }).type;
    assertOneOf(type, where, `${at}.type`, FAULT_TYPES);
    const spec = assertOptions(f as FaultSpec, `${where}: ${at} (${type})`, FAULT_KEYS[type]) as FaultSpec;
    assertNumber(spec.probability, where, `${at}.probability`, { min: 0, max: 1 });
    const copy: Record<string, unknown> = { type, probability: spec.probability };
    if (spec.type === 'latency') {
      const forms = [
        spec.ms !== undefined,
        spec.minMs !== undefined || spec.maxMs !== undefined,
        spec.meanMs !== undefined,
      ];
      if (forms.filter(Boolean).length !== 1) {
        throw invalidArg(
          `${where}: ${at} (latency) needs exactly one of ms (fixed), minMs and maxMs (uniform) or meanMs (exponential)`,
        );
      }
      if (spec.ms !== undefined) {
        assertNumber(spec.ms, where, `${at}.ms`, { min: 0, max: MAX_MS, unit: 'milliseconds' });
        copy.ms = spec.ms;
      } else if (spec.meanMs !== undefined) {
        assertNumber(spec.meanMs, where, `${at}.meanMs`, { min: 0, max: MAX_MS / 100, unit: 'milliseconds' });
        copy.meanMs = spec.meanMs;
      } else {
        assertNumber(spec.minMs, where, `${at}.minMs`, { min: 0, max: MAX_MS, unit: 'milliseconds' });
        assertNumber(spec.maxMs, where, `${at}.maxMs`, {
          min: spec.minMs,
          max: MAX_MS,
          unit: 'milliseconds',
        });
        copy.minMs = spec.minMs;
        copy.maxMs = spec.maxMs;
      }
    } else if (spec.type === 'cpu') {
      assertNumber(spec.ms, where, `${at}.ms`, { min: 0, max: 60_000, unit: 'milliseconds' });
      copy.ms = spec.ms;
    } else if (spec.type === 'error') {
      const own = Object.hasOwn(spec, 'error') && spec.error !== undefined;
      const ignored = [spec.status !== undefined && 'status', spec.message !== undefined && 'message'].filter(
        (k): k is string => k !== false,
      );
      if (own && ignored.length > 0) {
        throw invalidArg(
          `${where}: ${at} (error) takes either error (your own error, thrown as is) or status and message (for the ChaosError it builds), not both: ${ignored.join(' and ')} would be ignored; set ${ignored.length > 1 ? 'them' : 'it'} on your error instead`,
        );
      }
      if (spec.status !== undefined) {
        assertNumber(spec.status, where, `${at}.status`, { min: 400, max: 599, integer: true });
        copy.status = spec.status;
      }
      if (spec.message !== undefined) {
        if (typeof spec.message !== 'string' || spec.message.length > 1000) {
          throw invalidArg(
            `${where}: ${at}.message must be a string of at most 1000 characters, got ${describe(spec.message)}`,
          );
        }
        copy.message = spec.message;
      }
      if (own) {
        if (typeof spec.error !== 'function' && !isError(spec.error)) {
          throw invalidArg(
            `${where}: ${at}.error must be an Error or a function returning one, got ${describe(spec.error)}`,
          );
        }
        copy.error = spec.error;
      }
    }
    upTo += spec.probability;
    if (upTo > 1 + 1e-9) {
      throw invalidArg(
        `${where}: spec.faults' probabilities add up to more than 1 (${upTo.toFixed(4)} at ${at}); one draw picks at most one fault per call, so lower them`,
      );
    }
    out.push(
      Object.freeze({
        type,
        probability: spec.probability,
        upTo,
        spec: Object.freeze(copy) as unknown as FaultSpec,
      }),
    );
  });
  return Object.freeze(out);
}

/** @internal isError reports whether `v` is an Error, from this realm or another (a vm context, a worker's copy). */
export function isError(v: unknown): v is Error {
  return v instanceof Error || types.isNativeError(v);
}

/**
 * @internal
 * noExtraArgs throws LEASH_ERR_INVALID_ARG when `args` (a function's `arguments`) has a value
 * other than undefined past the first `count`: chaos's functions take no options bag there, and an
 * argument they would ignore is a mistake to report, not to drop. `takes` says what the function
 * takes ("one argument, the controller"), with what to do instead.
 */
export function noExtraArgs(args: ArrayLike<unknown>, count: number, where: string, takes: string): void {
  for (let i = count; i < args.length; i++) {
    if (args[i] === undefined) continue;
    const nth = ORDINALS[i] ?? `${i + 1}th`;
    throw invalidArg(`${where}: takes ${takes}; got a ${nth} argument: ${describe(args[i])}`);
  }
}

const ORDINALS = ['first', 'second', 'third', 'fourth', 'fifth'];

function randomSeed(): number {
  return Math.floor(Math.random() * 4_294_967_296);
}
