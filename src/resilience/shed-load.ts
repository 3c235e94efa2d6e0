import type { IncomingMessage, ServerResponse } from 'node:http';
import { background, type Context, withCancel } from '../context/index.js';
import {
  assertFunction,
  assertNumber,
  assertOptions,
  describe,
  invalidArg,
  isContext,
  markShed,
} from '../context/internal.js';
import { type CallbackRule, callChecked, isBoolean, NO_OUTCOME } from './errors.js';
import { channels, publish } from './events.js';
import { isPolicy, type Policy, userExecute } from './policy.js';

/** ShedLoadOptions configure shedLoad(). */
export interface ShedLoadOptions {
  /** context gives the request's context (e.g. from leashjs/http). Default: `req.ctx` when set, else one cancelled when the response closes. */
  readonly context?: (req: IncomingMessage) => Context;
  /** retryAfterSeconds is the Retry-After sent when the error names no retryAfterMs. Minimum: 0. Default: 1. */
  readonly retryAfterSeconds?: number;
  /** isShed says which errors are load shedding (503): true or false; others go to next(err). Default: errors with a LEASH_ERR_ code of a full bulkhead, a limit, a rate limit or an open circuit. */
  readonly isShed?: (err: unknown) => boolean;
}

const SHED_CODES = new Set([
  'LEASH_ERR_BULKHEAD_FULL',
  'LEASH_ERR_CONCURRENCY_LIMIT',
  'LEASH_ERR_RATE_LIMITED',
  'LEASH_ERR_CIRCUIT_OPEN',
]);

const CONTEXT: CallbackRule = {
  call: 'options.context(req)',
  valid: isContext,
  expected: "a Context (such as leashjs/http's req.ctx)",
  fix: "the request did not run. Fix the context option; what it threw, if anything, is this error's cause",
};
const IS_SHED: CallbackRule = {
  call: 'options.isShed(err)',
  valid: isBoolean,
  expected: 'true or false',
  fix: "the request did not run. Fix isShed; the policy's error is this error's cause",
};

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
 * An error that is not load shedding goes to `next(err)`, and so does a bug in the options, as a
 * TypeError (LEASH_ERR_INVALID_ARG) naming the option: a `context` that throws (what it threw is
 * the `cause`) or returns no Context, an `isShed` that throws or returns no boolean (the policy's
 * error is the `cause`), a policy whose execute returns no promise. Nothing escapes the
 * middleware synchronously. A `next` that declares no parameter (`() => handler(req, res)`, a
 * plain node:http handler) cannot take an error: calling it would run the handler outside the
 * policy and drop the error, so the request is answered `500` instead, and the error (unless it
 * is only the request's context ending) is emitted as a process warning. A handler that throws
 * synchronously inside `next()` is answered the same way, and the policy counts the call as failed.
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
  const contextOption = o.context;
  return (req, res, next) => {
    let ctx: Context;
    let cancel: (() => void) | null = null;
    const own = (req as { ctx?: unknown }).ctx;
    // Not answered by the policy: to next(err), or a 500 when next cannot take an error.
    const fail = (err: unknown): void => {
      if (next.length > 0) {
        next(err);
        return;
      }
      if (err !== ctx?.err) process.emitWarning(err instanceof Error ? err : String(err));
      if (res.headersSent || res.destroyed) return;
      res.statusCode = 500;
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      res.end('Internal Server Error\n');
    };
    if (contextOption !== undefined) {
      try {
        ctx = callChecked(where, CONTEXT, NO_OUTCOME, contextOption, undefined, req) as Context;
      } catch (err) {
        fail(err);
        return;
      }
    } else if (own !== undefined && typeof (own as Context).value === 'function') ctx = own as Context;
    else [ctx, cancel] = withCancel(background());
    let entered = false;
    userExecute(
      ctx,
      policy,
      () =>
        new Promise<void>((resolve, reject) => {
          entered = true;
          // The permit is held until the response is over, however the handler ends it.
          if (res.writableFinished || res.destroyed) resolve();
          else res.once('close', () => resolve());
          try {
            next();
          } catch (err) {
            // A handler that throws at once (a plain node:http one; Express catches its own): the
            // request is answered as for any other error, and the call counts as failed.
            fail(err);
            reject(err);
          }
        }),
      'shedLoad(policy, options): policy',
    ).then(
      () => cancel?.(),
      (err: unknown) => {
        cancel?.();
        if (entered || res.headersSent) return;
        let shed: unknown;
        try {
          shed = callChecked(where, IS_SHED, err, isShed, undefined, err);
        } catch (bug) {
          fail(bug);
          return;
        }
        if (!shed) {
          fail(err);
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
