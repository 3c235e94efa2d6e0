import { randomUUID } from 'node:crypto';
import type { Key } from '../context/index.js';
import { createKey } from '../context/index.js';

/**
 * requestIdKey holds the request id of a request context: the client's `x-request-id` when it is
 * well formed (1 to 128 characters of A-Z a-z 0-9 . _ -), otherwise a new UUID-shaped id (random per
 * process, then a counter: unique, but predictable, so never a token). The id is echoed on the
 * response and forwarded by leash's fetch. Read it with `ctx.value(requestIdKey)`.
 */
export const requestIdKey: Key<string> = createKey<string>('leashjs/http.requestId');

const wellFormed = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * acceptRequestId returns the incoming header value if it is a well-formed request id, else a new
 * one. Anything else (too long, other characters, a repeated header) is not trusted: it would end
 * up in logs and in headers sent to other services.
 */
export function acceptRequestId(header: string | string[] | undefined): string {
  return typeof header === 'string' && wellFormed.test(header) ? header : newRequestId();
}

// A request id must be unique, not secret (it travels in headers and logs). A random UUID per id
// costs ~145 ns (crypto); a random per-process prefix plus a counter costs ~45 ns (both measured in
// bench/http.bench.ts) and is just as unique: 74 random bits tell processes apart, a 48-bit counter
// tells requests apart (the prefix is drawn again before it could wrap). The counter is kept as a
// fixed 30-character head (prefix and high 24 bits) and low 24 bits written through a byte-to-hex table.
const byteHex: string[] = Array.from({ length: 256 }, (_, i) => (i + 256).toString(16).slice(1));
const lowLimit = 0x1000000;
let head = '';
let high = lowLimit; // forces a fresh prefix on first use
let low = lowLimit - 1;

/**
 * newRequestId returns a new request id shaped like a UUID (8-4-4-4-12 lowercase hex, version 4
 * nibble, RFC 4122 variant): the first 24 characters are random per process, the last 12 count up.
 * Ids from one process therefore share a prefix, which also tells which process served a request.
 * Unique, but predictable: not suitable as a secret or token.
 */
export function newRequestId(): string {
  if (++low === lowLimit) {
    low = 0;
    if (++high >= lowLimit) high = 0;
    head =
      (high === 0 || head === '' ? randomUUID().slice(0, 24) : head.slice(0, 24)) +
      byteHex[high >>> 16]! +
      byteHex[(high >>> 8) & 255]! +
      byteHex[high & 255]!;
  }
  return head + byteHex[low >>> 16]! + byteHex[(low >>> 8) & 255]! + byteHex[low & 255]!;
}
