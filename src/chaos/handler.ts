// The run-time switch: a small HTTP endpoint that shows a controller and applies JSON patches to it,
// beside leashjs/leak's debugHandler.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { assertNumber, assertOptions, describe, invalidArg } from '../context/internal.js';
import type { ChaosController } from './controller.js';
import { checkController } from './middleware.js';
import { noExtraArgs } from './spec.js';

/** ChaosHandlerOptions configure chaosHandler(). */
export interface ChaosHandlerOptions {
  /** path it answers, matched against the raw `req.url` (a query string is allowed). Default: '/debug/leash/chaos'. */
  readonly path?: string;
  /** maxBodyBytes is the largest patch accepted; a larger one gets 413. Default: 65536. */
  readonly maxBodyBytes?: number;
}

/** ChaosHandler is what chaosHandler() returns: true when it answered the request. */
export type ChaosHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  next?: (err?: unknown) => void,
) => boolean;

/**
 * chaosHandler returns a node:http-style handler (also Express/Connect middleware) that switches
 * `controller` at run time, on one path (default `/debug/leash/chaos`, next to debugHandler()'s):
 *
 * - `GET` answers the controller's toJSON();
 * - `POST` or `PUT` with a JSON body applies it as ChaosController.update(patch) (`{"enabled":
 *   false}` switches chaos off) and answers the new state; a body that is not JSON, or a patch
 *   that fails validation, gets 400 with `{ "error": message, "code": "LEASH_ERR_INVALID_ARG" }`
 *   and changes nothing; a body over maxBodyBytes gets 413;
 * - another method gets 405 with `Allow`.
 *
 * Any other path: it calls `next()` when given and returns false, so it chains in front of an app
 * or of debugHandler(). Anyone who can reach it can slow or break the service: mount it on an
 * internal port or behind authentication, as debugHandler(). Bad options, or an argument after
 * opts, throw LEASH_ERR_INVALID_ARG.
 *
 * @example
 * const chaosSwitch = chaosHandler(controller);
 * const debug = debugHandler();
 * http.createServer((req, res) => chaosSwitch(req, res) || debug(req, res) || app(req, res)).listen(6060, '127.0.0.1');
 */
export function chaosHandler(controller: ChaosController, opts?: ChaosHandlerOptions): ChaosHandler {
  const where = 'chaosHandler(controller, opts)';
  checkController(controller, where);
  // biome-ignore lint/complexity/noArguments: an argument past opts is reported, not ignored.
  noExtraArgs(arguments, 2, where, 'two arguments, the controller and opts ({ path, maxBodyBytes })');
  const o = assertOptions(opts, where, ['path', 'maxBodyBytes']);
  const path = o.path ?? '/debug/leash/chaos';
  if (typeof path !== 'string' || !path.startsWith('/') || /[?#\s]/.test(path)) {
    throw invalidArg(
      `${where}: opts.path must be a path starting with '/' (no '?', '#' or spaces), got ${describe(path)}`,
    );
  }
  const max = o.maxBodyBytes ?? 65_536;
  assertNumber(max, where, 'opts.maxBodyBytes', { min: 2, max: 16_777_216, integer: true, unit: 'bytes' });
  return (req, res, next) => {
    const url = typeof req?.url === 'string' ? req.url : '';
    if (url !== path && !url.startsWith(`${path}?`)) {
      next?.();
      return false;
    }
    const method = req.method;
    if (method === 'GET' || method === 'HEAD') {
      send(res, 200, controller.toJSON(), method === 'HEAD');
      return true;
    }
    if (method !== 'POST' && method !== 'PUT') {
      res.setHeader('allow', 'GET, HEAD, POST, PUT');
      send(res, 405, {
        error: `${method} is not supported here; GET shows the chaos spec, POST or PUT a JSON patch`,
      });
      return true;
    }
    readBody(req, max, (status, body) => {
      if (status !== 200) {
        send(res, status, { error: body });
        return;
      }
      let patch: unknown;
      try {
        patch = JSON.parse(body);
      } catch (e) {
        send(res, 400, {
          error: `the body must be a JSON object such as {"enabled": false}: ${(e as Error).message}`,
          code: 'LEASH_ERR_INVALID_ARG',
        });
        return;
      }
      try {
        controller.update(patch as Parameters<ChaosController['update']>[0]);
      } catch (e) {
        const err = e as { message?: string; code?: string };
        send(res, 400, { error: String(err.message), code: err.code ?? 'LEASH_ERR_INVALID_ARG' });
        return;
      }
      send(res, 200, controller.toJSON());
    });
    return true;
  };
}

function readBody(req: IncomingMessage, max: number, done: (status: number, body: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  req.on('data', (chunk: Buffer) => {
    if (over) return;
    size += chunk.length;
    if (size > max) {
      over = true;
      chunks.length = 0;
      done(413, `the patch is larger than ${max} bytes`);
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (!over) done(200, Buffer.concat(chunks).toString('utf8'));
  });
  req.on('error', () => {});
}

function send(res: ServerResponse, status: number, value: unknown, head = false): void {
  if (res.headersSent || res.writableEnded) return;
  const body = `${JSON.stringify(value, null, 2)}\n`;
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.setHeader('cache-control', 'no-store');
  res.end(head ? undefined : body);
}
