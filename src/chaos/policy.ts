// chaos() as a resilience Policy, so that faults compose with wrap() like any other policy.
import { afterFunc, type Context } from '../context/index.js';
import { assertContext, assertFunction, describe, hold, invalidArg, release } from '../context/internal.js';
import type { Policy } from '../resilience/index.js';
import { ChaosController, DECIDE } from './controller.js';
import { delay, dropError, injectedError } from './faults.js';
import { type ChaosSpec, noExtraArgs } from './spec.js';

/**
 * chaos returns a Policy that injects the faults of `controller` (or of a new controller made from
 * `spec`) before the call: latency and cpu delay it, error and drop fail it without running it
 * (drop with a ChaosError whose `cause` has code ECONNRESET), hang never runs it and rejects with
 * ctx.err when the caller's context ends. A call with no fault runs as is. Like every policy, it
 * answers a caller whose context ends with ctx.err at once, whatever the work does. It takes no
 * options: a second argument throws LEASH_ERR_INVALID_ARG.
 *
 * Order in wrap() matters: `wrap(breaker, chaos(c))` lets the breaker see the injected failures;
 * `wrap(chaos(c), breaker)` injects them in front of it.
 *
 * @example
 * const policy = wrap(circuitBreaker({ failureRate: 0.5 }), chaos(controller), timeout(200));
 * const user = await policy.execute(ctx, (ctx) => fetchUser(ctx, id));
 */
export function chaos(controller: ChaosController | ChaosSpec): ChaosPolicy {
  const takes =
    'one argument, the controller or a spec (it has no options: set faults and target in the spec or with controller.update(patch))';
  // biome-ignore lint/complexity/noArguments: an argument past the controller is reported, not ignored.
  noExtraArgs(arguments, 1, 'chaos(controller)', takes);
  if (controller instanceof ChaosController) return new ChaosPolicy(controller);
  if (typeof controller !== 'object' || controller === null) {
    throw invalidArg(
      `chaos(controller): controller must be a ChaosController or a spec object, got ${describe(controller)}`,
    );
  }
  return new ChaosPolicy(new ChaosController(controller, 'chaos(spec)'));
}

/** ChaosPolicy is the Policy made by chaos(). */
export class ChaosPolicy implements Policy {
  /** controller decides the faults; switch it with enable(), disable() and update(). */
  readonly controller: ChaosController;

  constructor(controller: ChaosController) {
    this.controller = controller;
  }

  execute<T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T> {
    const where = 'chaos(controller).execute(ctx, fn)';
    try {
      assertContext(ctx, where);
      assertFunction(fn, where, 'fn');
      if (ctx.err !== undefined) return Promise.reject(ctx.err);
      const d = this.controller[DECIDE](ctx, 'policy');
      if (d === undefined) return run(ctx, fn);
      if (d.fault === 'error') return Promise.reject(injectedError(this.controller.name, d));
      if (d.fault === 'drop') return Promise.reject(dropError(this.controller.name));
      const wait = delay(ctx, d);
      return wait === undefined ? run(ctx, fn) : wait.then(() => run(ctx, fn));
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

function run<T>(ctx: Context, fn: (ctx: Context) => Promise<T>): Promise<T> {
  let work: Promise<T>;
  try {
    const r = fn(ctx);
    work = r instanceof Promise ? r : Promise.resolve(r);
  } catch (e) {
    return Promise.reject(e);
  }
  return race(ctx, work);
}

// race settles as `work` does, or rejects with ctx.err once ctx ends first, unregistering from ctx
// as soon as either happens (leashjs/resilience's race, which its index does not export): about a
// third of abortable()'s cost per call, measured in bench/chaos.bench.ts. A late rejection of
// abandoned work is handled here. While pending on a context with a deadline it keeps the process
// alive until that deadline, as every leash wait does.
function race<T>(ctx: Context, work: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const held = ctx.deadline !== undefined;
    if (held) hold();
    const stop = afterFunc(ctx, () => {
      if (done) return;
      done = true;
      if (held) release();
      reject(ctx.err);
    });
    work.then(
      (v) => {
        if (done) return;
        done = true;
        stop();
        if (held) release();
        resolve(v);
      },
      (e: unknown) => {
        if (done) return;
        done = true;
        stop();
        if (held) release();
        reject(e);
      },
    );
  });
}
