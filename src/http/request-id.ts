import { randomUUID } from 'node:crypto';
import type { Key } from '../context/index.js';
import { createKey } from '../context/index.js';

/**
 * requestIdKey holds the request id of a request context: the client's `x-request-id` when it is
 * well formed (1 to 128 characters of A-Z a-z 0-9 . _ -), otherwise a fresh UUID. The id is echoed on
 * the response and forwarded by leash's fetch. Read it with `ctx.value(requestIdKey)`.
 */
export const requestIdKey: Key<string> = createKey<string>('leash/http.requestId');

const wellFormed = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * acceptRequestId returns the incoming header value if it is a well-formed request id, else a new
 * UUID. Anything else (too long, other characters, a repeated header) is not trusted: it would end
 * up in logs and in headers sent to other services.
 */
export function acceptRequestId(header: string | string[] | undefined): string {
  return typeof header === 'string' && wellFormed.test(header) ? header : randomUUID();
}
