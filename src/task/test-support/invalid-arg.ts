// Test-only assertion shared by the task layer's bad-input tests. Not part of the package
// (excluded from the build).
import assert from 'node:assert/strict';

/**
 * assertInvalidArg asserts that `fn` throws the layer's bad-input error: a TypeError with code
 * LEASH_ERR_INVALID_ARG whose message matches `message`.
 */
export function assertInvalidArg(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TypeError);
    assert.equal((e as { code?: string }).code, 'LEASH_ERR_INVALID_ARG');
    assert.match((e as Error).message, message);
    return true;
  });
}
