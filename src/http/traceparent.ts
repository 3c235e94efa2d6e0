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
export const traceparentKey: Key<TraceContext> = createKey<TraceContext>('leashjs/http.traceparent');

const zeroTrace = '00000000000000000000000000000000';
const zeroSpan = '0000000000000000';

// Lower-case hex only, as the spec requires. A loop over char codes: this runs on every request
// that carries a traceparent, and a regex with captures cost about four times as much.
function isHex(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/**
 * parseTraceparent validates a `traceparent` header (W3C Trace Context level 1) and returns its parts,
 * or undefined when it is malformed: wrong length or case, version ff, an all-zero trace or span id,
 * or extra fields on version 00 (later versions may append fields after a dash).
 */
export function parseTraceparent(header: string | string[] | undefined): TraceContext | undefined {
  if (typeof header !== 'string' || header.length < 55) return undefined;
  if (header.charCodeAt(2) !== 45 || header.charCodeAt(35) !== 45 || header.charCodeAt(52) !== 45)
    return undefined;
  if (!isHex(header, 0, 2) || !isHex(header, 3, 35) || !isHex(header, 36, 52) || !isHex(header, 53, 55)) {
    return undefined;
  }
  const version = header.slice(0, 2);
  if (version === 'ff') return undefined;
  if (header.length > 55 && (version === '00' || header.charCodeAt(55) !== 45)) return undefined;
  const traceId = header.slice(3, 35);
  const parentId = header.slice(36, 52);
  if (traceId === zeroTrace || parentId === zeroSpan) return undefined;
  return { traceId, parentId, flags: header.slice(53, 55) };
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
