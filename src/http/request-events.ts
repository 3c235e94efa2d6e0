// Diagnostics for request contexts, on node:diagnostics_channel, for observers (metrics, tracing,
// leashjs/leak) that must not be imported here. Nothing is built or published when nobody listens: the
// cost is one property read per request and event. Every payload is a new frozen plain object, so a
// subscriber can keep it but never change what leash does (docs/diagnostics.md).
import diagnostics_channel from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '../context/index.js';

/** RequestStartEvent is the payload of `leash:http:request-start`: a request context was created. */
export interface RequestStartEvent {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly ctx: Context;
}

/** RequestEndEvent is the payload of `leash:http:request-end`: the request's response closed. */
export interface RequestEndEvent {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly ctx: Context;
  /** cause is why the request context ended: cause(ctx) once the response closed. */
  readonly cause: unknown;
}

/**
 * HandlerErrorEvent is the payload of `leash:http:handler-error`: a handler wrapped by withContext()
 * threw or rejected. `status` is what the client was answered (0 when nothing could be sent: the
 * client had left, or the headers were already out and the response was destroyed).
 */
export interface HandlerErrorEvent {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly ctx: Context;
  readonly error: unknown;
  readonly status: number;
}

/** @deprecated Use RequestStartEvent (request-start) or RequestEndEvent (request-end). */
export type RequestEvent = RequestStartEvent;

const startChannel = diagnostics_channel.channel('leash:http:request-start');
const endChannel = diagnostics_channel.channel('leash:http:request-end');
const handlerErrorChannel = diagnostics_channel.channel('leash:http:handler-error');

/** publishStart announces a new request context. */
export function publishStart(req: IncomingMessage, res: ServerResponse, ctx: Context): void {
  if (!startChannel.hasSubscribers) return;
  const msg: RequestStartEvent = Object.freeze({ req, res, ctx });
  startChannel.publish(msg);
}

/** hasEndSubscribers tells whether request-end has subscribers (to skip computing its cause). */
export function hasEndSubscribers(): boolean {
  return endChannel.hasSubscribers;
}

/** publishEnd announces that the request context ended, with its cause. */
export function publishEnd(req: IncomingMessage, res: ServerResponse, ctx: Context, cause: unknown): void {
  if (!endChannel.hasSubscribers) return;
  const msg: RequestEndEvent = Object.freeze({ req, res, ctx, cause });
  endChannel.publish(msg);
}

/** hasHandlerErrorSubscribers tells whether `leash:http:handler-error` has subscribers. */
export function hasHandlerErrorSubscribers(): boolean {
  return handlerErrorChannel.hasSubscribers;
}

/** publishHandlerError announces a handler's throw or rejection. */
export function publishHandlerError(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: Context,
  error: unknown,
  status: number,
): void {
  if (!handlerErrorChannel.hasSubscribers) return;
  const msg: HandlerErrorEvent = Object.freeze({ req, res, ctx, error, status });
  handlerErrorChannel.publish(msg);
}
