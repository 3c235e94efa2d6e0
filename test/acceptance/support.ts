// Helpers shared by the acceptance suites. Not a test file (no .test. in the name).
import assert from 'node:assert/strict';

/** turn resolves after the current event-loop turn (one setImmediate). */
export const turn = (): Promise<void> => new Promise<void>((r) => setImmediate(r));

/** delay resolves after `ms` milliseconds. */
export const delay = (ms: number): Promise<void> => new Promise<void>((r) => setTimeout(r, ms));

/** isPending reports whether `p` is still unsettled after one event-loop turn. */
export async function isPending(p: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending');
  const r = await Promise.race([
    p.then(
      () => 'settled',
      () => 'settled',
    ),
    turn().then(() => marker),
  ]);
  return r === marker;
}

/**
 * expectInvalid accepts a synchronous throw or a rejected promise, as long as it is a TypeError
 * with code LEASH_ERR_INVALID_ARG and a message that says what was expected.
 */
export async function expectInvalid(fn: () => unknown, what: string): Promise<void> {
  let error: unknown;
  try {
    const r = fn();
    if (r && typeof (r as Promise<unknown>).then === 'function') await r;
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof TypeError, `${what}: expected a TypeError, got ${String(error)}`);
  assert.equal((error as { code?: string }).code, 'LEASH_ERR_INVALID_ARG', what);
  assert.ok(error.message.length > 10, `${what}: message should say what was expected`);
}
