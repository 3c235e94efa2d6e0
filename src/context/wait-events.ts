// Diagnostics for leash's own blocking waits (sleep, abortable). Observers such as leashjs/task (to
// show a task as 'sleeping' or 'io' in profiles) subscribe by name; nothing is built or published
// when nobody listens, so the cost is one property read per wait.
import diagnostics_channel from 'node:diagnostics_channel';
import type { Context } from './context.js';

/** @internal The message of `leash:context:wait-start`; the same object is published at the end. */
export interface WaitMessage {
  readonly op: 'sleep' | 'abortable';
  readonly ctx: Context;
}

const waitStart = diagnostics_channel.channel('leash:context:wait-start');
const waitEnd = diagnostics_channel.channel('leash:context:wait-end');
const abandonedRejection = diagnostics_channel.channel('leash:context:abandoned-rejection');

/** @internal Publishes a wait's start; returns the message to end it with, or null. */
export function startWait(op: WaitMessage['op'], ctx: Context): WaitMessage | null {
  if (!waitStart.hasSubscribers) return null;
  const msg: WaitMessage = { op, ctx };
  waitStart.publish(msg);
  return msg;
}

/** @internal Publishes the end of a wait started by startWait. */
export function endWait(msg: WaitMessage | null): void {
  if (msg !== null) waitEnd.publish(msg);
}

/**
 * @internal
 * Reports a rejection of work that abortable() had stopped waiting for because its context ended
 * first. The caller already got ctx.err; this keeps the late error observable without turning it
 * into an unhandled rejection.
 */
export function reportAbandonedRejection(error: unknown, ctx: Context): void {
  if (abandonedRejection.hasSubscribers) abandonedRejection.publish({ error, ctx });
}
