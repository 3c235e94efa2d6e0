/**
 * parseRequestTimeout reads an `x-request-timeout` header: a whole number of milliseconds, digits
 * only. Anything else (missing, empty, negative, fractional, "10s", a repeated header) returns
 * undefined and is ignored, never trusted: a caller cannot talk the server into a deadline it did
 * not mean.
 */
export function parseRequestTimeout(header: string | string[] | undefined): number | undefined {
  if (typeof header !== 'string' || header.length === 0 || header.length > 15) return undefined;
  for (let i = 0; i < header.length; i++) {
    const c = header.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  return Number(header);
}
