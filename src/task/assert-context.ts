import { type Context, isContext } from '../context/index.js';
import { invalidArg } from './errors.js';

/**
 * assertContext throws TypeError (code LEASH_ERR_INVALID_ARG) naming `where` unless `ctx` can serve
 * as a Context: the core's own test (`isContext`), so any context the core accepts is accepted here. It runs at the
 * top of every operation, before any fast path, so a bad or swapped argument fails the same way
 * whatever the channel's state. The first test alone rejects `undefined`, primitives and plain
 * values; on a real context it is a few monomorphic property reads.
 */
export function assertContext(ctx: unknown, where: string): asserts ctx is Context {
  if (!isContext(ctx))
    throw invalidArg(
      `${where}: expected a Context (from background(), withCancel() and friends, or an object with deadline, err, signal, done and value()), got ${describe(ctx)}`,
    );
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return v.constructor?.name ? `a ${v.constructor.name}` : 'an object';
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'string')
    return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}
