// Chaos for node:http and Express (or any Connect-style stack): faults injected in front of the
// handler, under the request's leash context (leashjs/http's adapters attach it).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '../context/index.js';
import { assertFunction, describe, invalidArg } from '../context/internal.js';
import { contextOf } from '../http/index.js';
import { ChaosController, DECIDE } from './controller.js';
import { ChaosError } from './errors.js';
import { delay, injectedError } from './faults.js';
import { noExtraArgs } from './spec.js';

/**
 * ChaosMiddleware is the Express/Connect middleware chaosMiddleware() returns. Structural (an
 * IncomingMessage, a ServerResponse, a next function): leash's declarations need no express types.
 */
export type ChaosMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (err?: unknown) => void,
) => void;

/** @internal What the integrations that take only a controller say to an extra argument. */
export const TAKES_CONTROLLER =
  'one argument, the controller (it has no options: set faults and target with chaosController(spec) or controller.update(patch))';

/** @internal Checks the controller argument of every chaos integration. */
export function checkController(c: unknown, where: string): asserts c is ChaosController {
  if (!(c instanceof ChaosController)) {
    throw invalidArg(
      `${where}: controller must be a ChaosController (from chaosController(spec)), got ${describe(c)}`,
    );
  }
}

/** @internal The response is already answered (a deadline reply) or gone: nothing more to send. */
export function answered(res: ServerResponse): boolean {
  return res.headersSent || res.writableEnded || res.destroyed;
}

/**
 * @internal
 * settled calls `pass(err)` once a fault's wait ended with the request's context, unless the
 * response was answered by then. It looks one macrotask later: leashjs/http answers a deadline
 * with 504 from a callback on the same context, which may run after the wait's rejection, and a
 * framework handed the error first would answer too (Express's finalhandler then throws
 * ERR_HTTP_HEADERS_SENT on the 504's headers).
 */
export function settled(res: ServerResponse, err: unknown, pass: (err: unknown) => void): void {
  setImmediate(() => {
    if (!answered(res)) pass(err);
  });
}

/**
 * @internal
 * waited is settled() for promise-style middleware: it resolves with 'go' when the wait passed,
 * 'answered' when it ended with the request and the response is answered or gone, else with the
 * error to hand on. It never rejects and never stays pending.
 */
export function waited(
  res: ServerResponse,
  wait: Promise<void>,
): Promise<'go' | 'answered' | { err: unknown }> {
  return wait.then(
    () => 'go' as const,
    (err: unknown) =>
      new Promise<'answered' | { err: unknown }>((resolve) => {
        setImmediate(() => resolve(answered(res) ? 'answered' : { err }));
      }),
  );
}

/**
 * chaosMiddleware returns Express (or Connect) middleware that injects the faults of `controller`
 * into the requests in its blast radius (a target header is read from the request). Mount it after
 * expressContext(): it needs the request's leash context (a request without one goes to next(err)
 * with LEASH_ERR_INVALID_ARG). It takes no options: an argument after the controller throws
 * LEASH_ERR_INVALID_ARG.
 *
 * - latency waits (the request's deadline or the client leaving ends the wait), then next();
 * - cpu blocks the event loop for its ms, then next();
 * - error calls next(err) with a ChaosError (status from the fault, default 500) or the fault's error;
 * - hang never calls next(): when the request's context ends, leashjs/http has answered a deadline
 *   with 504, a client that left gets nothing, and any other end goes to next(ctx.err);
 * - drop destroys the request's socket: the client sees its connection reset, and the request's
 *   context ends with ClientGoneError.
 *
 * @example
 * app.use(expressContext(background(), { timeoutMs: 5_000 }));
 * app.use(chaosMiddleware(controller));
 */
export function chaosMiddleware(controller: ChaosController): ChaosMiddleware {
  checkController(controller, 'chaosMiddleware(controller)');
  // biome-ignore lint/complexity/noArguments: an argument past the controller is reported, not ignored.
  noExtraArgs(arguments, 1, 'chaosMiddleware(controller)', TAKES_CONTROLLER);
  return (req, res, next) => {
    let ctx: Context;
    let d: ReturnType<ChaosController[typeof DECIDE]>;
    try {
      ctx = contextOf(req);
      d = controller[DECIDE](ctx, 'middleware', req.headers);
    } catch (e) {
      next(e);
      return;
    }
    if (d === undefined) {
      next();
      return;
    }
    if (d.fault === 'error') {
      next(injectedError(controller.name, d));
      return;
    }
    if (d.fault === 'drop') {
      req.socket.destroy();
      return;
    }
    const wait = delay(ctx, d);
    if (wait === undefined) {
      next();
      return;
    }
    wait.then(
      () => next(),
      (e: unknown) => settled(res, e, next),
    );
  };
}

/**
 * withChaos wraps a node:http handler (the one you give withContext) so that the faults of
 * `controller` are injected before it runs, as chaosMiddleware describes; an injected ChaosError is
 * answered here with its status and message as text (another injected error is thrown, for
 * withContext to answer). The handler must run under withContext (it reads `req.ctx`). No options:
 * an argument after the handler throws LEASH_ERR_INVALID_ARG.
 *
 * @example
 * http.createServer(withContext(background(), withChaos(controller, async (req, res) => {
 *   res.end('ok');
 * })));
 */
export function withChaos<Req extends IncomingMessage, Res extends ServerResponse>(
  controller: ChaosController,
  handler: (req: Req, res: Res) => unknown,
): (req: Req, res: Res) => Promise<void> {
  const where = 'withChaos(controller, handler)';
  checkController(controller, where);
  assertFunction(handler, where, 'handler');
  const takes =
    'two arguments, the controller and the handler (it has no options: set faults and target with chaosController(spec) or controller.update(patch))';
  // biome-ignore lint/complexity/noArguments: an argument past the handler is reported, not ignored.
  noExtraArgs(arguments, 2, where, takes);
  return async (req, res) => {
    const ctx = contextOf(req);
    const d = controller[DECIDE](ctx, 'middleware', req.headers);
    if (d !== undefined) {
      if (d.fault === 'error') {
        const err = injectedError(controller.name, d);
        if (!(err instanceof ChaosError)) throw err;
        if (answered(res)) return;
        const body = `${err.message}\n`;
        res.statusCode = err.status;
        res.setHeader('content-type', 'text/plain; charset=utf-8');
        res.setHeader('content-length', Buffer.byteLength(body));
        res.end(body);
        return;
      }
      if (d.fault === 'drop') {
        req.socket.destroy();
        return;
      }
      const wait = delay(ctx, d);
      if (wait !== undefined) {
        const failed = await wait.then(
          () => undefined,
          (e: unknown) =>
            new Promise<{ err: unknown }>((resolve) => settled(res, e, (err) => resolve({ err }))),
        );
        // Answered meanwhile (a deadline's 504) or the client left: settled never resolves; the
        // promise and this call are collected with the request.
        if (failed !== undefined) throw failed.err;
      }
    }
    await handler(req, res);
  };
}
