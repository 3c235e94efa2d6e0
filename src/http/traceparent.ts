import { randomBytes } from 'node:crypto';
import type { Key } from '../context/index.js';
import { createKey } from '../context/index.js';

/** TraceContext is a validated W3C `traceparent`: the trace, the caller's span, and the flags. */
export interface TraceContext {
  /** traceId is 32 lower-case hex digits, never all zero. */
  readonly traceId: string;
  /** parentId is the caller's span id: 16 lower-case hex digits, never all zero. */
  readonly parentId: string;
  /** flags is two hex digits; 01 means sampled. */
  readonly flags: string;
}

/**
 * traceparentKey holds the TraceContext of a request whose `traceparent` header was valid. leash
 * propagates traces, it does not start them: a request without a valid header has no value here,
 * and leash's fetch then sends no traceparent.
 */
export const traceparentKey: Key<TraceContext> = createKey<TraceContext>('leash/http.traceparent');

const shape = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const zeroTrace = '00000000000000000000000000000000';
const zeroSpan = '0000000000000000';

/**
 * parseTraceparent validates a `traceparent` header (W3C Trace Context level 1) and returns its parts,
 * or undefined when it is malformed: wrong length or case, version ff, an all-zero trace or span id,
 * or extra fields on version 00.
 */
export function parseTraceparent(header: string | string[] | undefined): TraceContext | undefined {
  if (typeof header !== 'string' || header.length < 55) return undefined;
  const m = shape.exec(header);
  if (m === null) return undefined;
  const [, version, traceId, parentId, flags, rest] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string?,
  ];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === zeroTrace || parentId === zeroSpan) return undefined;
  return { traceId, parentId, flags };
}

/**
 * childTraceparent returns the header to send on an outgoing call made inside `trace`: same trace id
 * and flags, a fresh span id for the outgoing call.
 */
export function childTraceparent(trace: TraceContext): string {
  let span = randomBytes(8).toString('hex');
  while (span === zeroSpan) span = randomBytes(8).toString('hex');
  return `00-${trace.traceId}-${span}-${trace.flags}`;
}
