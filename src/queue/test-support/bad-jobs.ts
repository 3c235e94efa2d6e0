// Test-only table shared by the memory and Redis tests of job data. Not part of the package
// (excluded from the build).

const cyclic: Record<string, unknown> = { n: 1 };
cyclic.self = cyclic;

const unserialisable = (what: string): string =>
  `queue.enqueue(ctx, job, opts): job must be JSON-serialisable (jobs are stored as JSON on Redis, and every backend checks them the same way), but JSON.stringify refused it (${what}); convert BigInts to strings or numbers and remove cycles`;
const notJSON = (got: string): string =>
  `queue.enqueue(ctx, job, opts): job must be a JSON value (an object, array, string, number, boolean or null), got ${got}; pass the data the handler needs, or null for a job without data`;

/** BAD_JOBS lists jobs JSON cannot carry, each with the exact message enqueue rejects it with on every backend. */
export const BAD_JOBS: readonly (readonly [job: unknown, message: string])[] = [
  [undefined, notJSON('undefined')],
  [function sendEmail() {}, notJSON('a function (sendEmail)')],
  [Symbol('job'), notJSON('a symbol (job)')],
  [10n, unserialisable('Do not know how to serialize a BigInt')],
  [{ big: 1n }, unserialisable('Do not know how to serialize a BigInt')],
  [cyclic, unserialisable('Converting circular structure to JSON')],
];
