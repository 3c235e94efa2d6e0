// Diagnostics for request contexts, on node:diagnostics_channel, for observers (metrics, tracing,
// leashjs/leak) that must not be imported here. Nothing is built or published when nobody listens: the
// cost is one property read per request and event.
import diagnostics_channel from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '../context/index.js';

/** RequestEvent is the message of `leash:http:request-start`; `leash:http:request-end` adds `cause`. */
export interface RequestEvent {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly ctx: Context;
  /** cause is why the request context ended (set on request-end only). */
  cause?: unknown;
}

const startChannel = diagnostics_channel.channel('leash:http:request-start');
const endChannel = diagnostics_channel.channel('leash:http:request-end');

/** publishStart announces a new request context; returns the message to end it with, or null. */
export function publishStart(req: IncomingMessage, res: ServerResponse, ctx: Context): RequestEvent | null {
  if (!startChannel.hasSubscribers && !endChannel.hasSubscribers) return null;
  const msg: RequestEvent = { req, res, ctx };
  startChannel.publish(msg);
  return msg;
}

/** publishEnd announces that the request context ended, with its cause. */
export function publishEnd(msg: RequestEvent | null, cause: unknown): void {
  if (msg === null || !endChannel.hasSubscribers) return;
  msg.cause = cause;
  endChannel.publish(msg);
}
