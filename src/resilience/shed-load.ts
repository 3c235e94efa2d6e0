import type { IncomingMessage, ServerResponse } from 'node:http';
import { background, type Context, withCancel } from '../context/index.js';
import {
  assertFunction,
  assertNumber,
  assertOptions,
  describe,
  invalidArg,
  markShed,
} from '../context/internal.js';
import { channels, publish } from './events.js';
import { isPolicy, type Policy } from './policy.js';

/** ShedLoadOptions configure shedLoad(). */
export interface ShedLoadOptions {
  /** context gives the request's context (e.g. from leashjs/http). Default: `req.ctx` when set, else one cancelled when the response closes. */
  readonly context?: (req: IncomingMessage) => Context;
  /** retryAfterSeconds is the Retry-After sent when the error names no retryAfterMs. Minimum: 0. Default: 1. */
  readonly retryAfterSeconds?: number;
  /** isShed says which errors are load shedding (503); others go to next(err). Default: errors with a LEASH_ERR_ code of a full bulkhead, a limit, a rate limit or an open circuit. */
  readonly isShed?: (err: unknown) => boolean;
}

const SHED_CODES = new Set([
  'LEASH_ERR_BULKHEAD_FULL',
  'LEASH_ERR_CONCURRENCY_LIMIT',
  'LEASH_ERR_RATE_LIMITED',
  'LEASH_ERR_CIRCUIT_OPEN',
]);

function defaultIsShed(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && SHED_CODES.has(code);
}

/**
 * shedLoad turns a policy (a bulkhead, an adaptiveLimit, a rate limiter, or a wrap of them) into
 * node:http middleware `(req, res, next)`: each request runs `next()` inside the policy and holds
 * its permit until the response closes; a request the policy rejects is answered at once with
 * `503 Service Unavailable` and a `Retry-After` header (the error's retryAfterMs in whole seconds,
 * else `retryAfterSeconds`), without reaching the handler. Works as Express middleware as is; in
 * Fastify call it from an onRequest hook with (request.raw, reply.raw, done), in Koa wrap it in a
 * promise around `next`. Published on `leash:resilience:shed-load:shed`.
 *
 * @example
 * const shed = shedLoad(adaptiveLimit({ algorithm: 'gradient2', eventLoop: true }));
 * http.createServer((req, res) => shed(req, res, () => handler(req, res)));
 */
export function shedLoad(
  policy: Policy,
  options?: ShedLoadOptions,
): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  const where = 'shedLoad(policy, options)';
  if (!isPolicy(policy)) throw invalidArg(`${where}: policy must be a Policy, got ${describe(policy)}`);
  const o = assertOptions(options, where, ['context', 'retryAfterSeconds', 'isShed']);
  if (o.context !== undefined) assertFunction(o.context, where, 'context');
  if (o.isShed !== undefined) assertFunction(o.isShed, where, 'isShed');
  const fallbackSeconds = o.retryAfterSeconds ?? 1;
  assertNumber(fallbackSeconds, where, 'retryAfterSeconds', { min: 0, unit: 'seconds' });
  const isShed = o.isShed ?? defaultIsShed;
  return (req, res, next) => {
    let ctx: Context;
    let cancel: (() => void) | null = null;
    const own = (req as { ctx?: unknown }).ctx;
    if (o.context !== undefined) ctx = o.context(req);
    else if (own !== undefined && typeof (own as Context).value === 'function') ctx = own as Context;
    else [ctx, cancel] = withCancel(background());
    let entered = false;
    policy
      .execute(
        ctx,
        () =>
          new Promise<void>((resolve) => {
            entered = true;
            // The permit is held until the response is over, however the handler ends it.
            if (res.writableFinished || res.destroyed) resolve();
            else res.once('close', () => resolve());
            next();
          }),
      )
      .then(
        () => cancel?.(),
        (err: unknown) => {
          cancel?.();
          if (entered || res.headersSent) return;
          if (!isShed(err)) {
            next(err);
            return;
          }
          const ms = (err as { retryAfterMs?: unknown } | null)?.retryAfterMs;
          const seconds =
            typeof ms === 'number' && Number.isFinite(ms) && ms >= 0
              ? Math.ceil(ms / 1000)
              : Math.ceil(fallbackSeconds);
          if (channels.shed.hasSubscribers)
            publish(channels.shed, () => ({ error: err, retryAfterSeconds: seconds }));
          markShed(res);
          res.statusCode = 503;
          res.setHeader('retry-after', String(seconds));
          res.setHeader('content-type', 'text/plain; charset=utf-8');
          res.end('Service Unavailable\n');
        },
      );
  };
}
