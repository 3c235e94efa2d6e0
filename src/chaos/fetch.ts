// Chaos for outgoing HTTP calls through leashjs/http's fetch.
import type { Context } from '../context/index.js';
import { assertContext } from '../context/internal.js';
import { fetch } from '../http/index.js';
import type { ChaosController } from './controller.js';
import { DECIDE } from './controller.js';
import { delay, dropError, injectedError } from './faults.js';
import { checkController, TAKES_CONTROLLER } from './middleware.js';
import { noExtraArgs } from './spec.js';

/** ChaosFetch is leashjs/http's fetch signature, which chaosFetch() keeps. */
export type ChaosFetch = (
  ctx: Context,
  input: string | URL | Request,
  init?: RequestInit | null,
) => Promise<Response>;

/**
 * chaosFetch returns leashjs/http's `fetch(ctx, input, init)` with the faults of `controller`
 * injected (a target header is read from the outgoing request's headers). It takes no options: an
 * argument after the controller throws LEASH_ERR_INVALID_ARG.
 *
 * - latency and cpu delay the request before it is sent; hang never sends it and rejects with
 *   ctx.err when ctx ends;
 * - error rejects without sending, with a ChaosError or the fault's own error;
 * - drop sends the request and, once the response headers arrive, aborts it: the connection is
 *   closed under a body still in flight (the server sees its client leave), and the call rejects
 *   with a ChaosError (fault 'drop', `cause` with code ECONNRESET). The server did the work; the
 *   caller never sees the answer, which is what a dropped connection does to a retry.
 *
 * @example
 * const fetchWithChaos = chaosFetch(controller);
 * const res = await fetchWithChaos(req.ctx, 'http://127.0.0.1:8081/stock/42');
 */
export function chaosFetch(controller: ChaosController): ChaosFetch {
  checkController(controller, 'chaosFetch(controller)');
  // biome-ignore lint/complexity/noArguments: an argument past the controller is reported, not ignored.
  noExtraArgs(arguments, 1, 'chaosFetch(controller)', TAKES_CONTROLLER);
  return (ctx, input, init) => {
    let d: ReturnType<ChaosController[typeof DECIDE]>;
    try {
      assertContext(ctx, 'chaosFetch(controller)(ctx, input, init)');
      const headers =
        init?.headers !== undefined
          ? new Headers(init.headers)
          : input instanceof Request
            ? input.headers
            : undefined;
      d = controller[DECIDE](ctx, 'fetch', headers);
    } catch (e) {
      return Promise.reject(e);
    }
    if (d === undefined) return fetch(ctx, input, init);
    if (d.fault === 'error') return Promise.reject(injectedError(controller.name, d));
    if (d.fault === 'drop') return dropped(ctx, input, init, controller.name);
    const wait = delay(ctx, d);
    return wait === undefined ? fetch(ctx, input, init) : wait.then(() => fetch(ctx, input, init));
  };
}

function dropped(
  ctx: Context,
  input: string | URL | Request,
  init: RequestInit | null | undefined,
  name: string,
): Promise<Response> {
  const cut = new AbortController();
  const own = init?.signal;
  const signal = own ? AbortSignal.any([own, cut.signal]) : cut.signal;
  return fetch(ctx, input, { ...init, signal }).then((res) => {
    const err = dropError(name);
    cut.abort(err);
    res.body?.cancel(err).catch(() => {});
    throw err;
  });
}
