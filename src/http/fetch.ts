import type { Context } from '../context/index.js';
import { remaining } from '../context/index.js';
import { assertContext, describe, invalidArg } from '../context/internal.js';
import { requestIdKey } from './request-id.js';
import { childTraceparent, traceparentKey } from './traceparent.js';

/**
 * fetch is the global fetch (undici) bound to a context. The request, and the reading of its body,
 * abort when ctx ends: the connection to the server is closed, not left to finish in the background,
 * and the promise rejects with ctx.err (CanceledError or DeadlineExceededError, never a bare
 * DOMException). It sends `x-request-timeout` with ctx's remaining budget in whole milliseconds
 * (keeping a smaller value the caller set), and forwards the request id (`x-request-id`) and a child
 * `traceparent` (same trace, new span id) when ctx carries them and the caller did not set them.
 *
 * init.signal may still be given: the call then also aborts when it aborts, with its reason. The
 * pairing is `AbortSignal.any`, so it retains nothing once the response is gone.
 * A response whose body you never read holds its connection: read it or call `body.cancel()`.
 *
 * @example
 * const res = await fetch(req.ctx, 'http://127.0.0.1:8081/stock/42');
 * if (!res.ok) throw new Error(`stock: ${res.status}`);
 * const stock = await res.json();
 */
export async function fetch(
  ctx: Context,
  input: string | URL | Request,
  init?: RequestInit | null,
): Promise<Response> {
  const where = 'fetch(ctx, input, init)';
  assertContext(ctx, where);
  if (typeof input !== 'string' && !(input instanceof URL) && !(input instanceof Request)) {
    throw invalidArg(`${where}: input must be a URL string, a URL or a Request, got ${describe(input)}`);
  }
  if (init === undefined || init === null) init = {};
  else if (typeof init !== 'object' || Array.isArray(init)) {
    throw invalidArg(`${where}: init must be a RequestInit object, got ${describe(init)}`);
  }
  if (ctx.err !== undefined) throw ctx.err;
  const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
  // remaining() is measured on the monotonic clock: a step of the wall clock changes no budget.
  const budget = remaining(ctx);
  if (budget !== Number.POSITIVE_INFINITY) {
    const ms = Math.floor(budget);
    const asked = Number(headers.get('x-request-timeout') ?? Number.NaN);
    if (!(asked >= 0 && asked < ms)) headers.set('x-request-timeout', String(ms));
  }
  const id = ctx.value(requestIdKey);
  if (id !== undefined && !headers.has('x-request-id')) headers.set('x-request-id', id);
  const trace = ctx.value(traceparentKey);
  if (trace !== undefined && !headers.has('traceparent')) headers.set('traceparent', childTraceparent(trace));

  // With a caller's own signal, the platform's AbortSignal.any pairs the two: its result is held
  // only weakly by its sources, so nothing outlives the response however long ctx lives (a leash
  // child context would have to stay linked until the body was read, which fetch cannot see).
  const signal = init.signal ? AbortSignal.any([ctx.signal, init.signal]) : ctx.signal;
  try {
    return await globalThis.fetch(input, { ...init, headers, signal });
  } catch (err) {
    if (ctx.err !== undefined) throw ctx.err;
    throw err;
  }
}
