import type { Key } from './context.js';
import { describe, invalidArg } from './internal.js';

/** @internal The one class whose instances are valid keys. */
export class ContextKey<T> implements Key<T> {
  declare readonly __type?: T;
  readonly name: string;
  constructor(name: string) {
    this.name = name;
    Object.freeze(this);
  }
  toString(): string {
    return `Key(${this.name})`;
  }
}

/**
 * createKey makes a new key for {@link withValue}. Every call returns a distinct key, so values
 * cannot collide between packages even when names match: define one key per kind of value, at
 * module level, and export accessors rather than the key when others should only read it.
 *
 * @example
 * const userKey = createKey<User>('user');
 * const ctx = withValue(parent, userKey, user);
 * ctx.value(userKey); // User | undefined
 */
export function createKey<T>(name: string): Key<T> {
  if (typeof name !== 'string')
    throw invalidArg(`createKey(name): name must be a string, got ${describe(name)}`);
  return new ContextKey<T>(name);
}

// instanceof asks a proxy for its prototype, which throws when the proxy is revoked.
function isKey(key: unknown): key is ContextKey<unknown> {
  try {
    return key instanceof ContextKey;
  } catch {
    return false;
  }
}

/** @internal Throws LEASH_ERR_INVALID_ARG unless `key` was made by createKey(). */
export function assertKey(key: unknown, where: string): asserts key is ContextKey<unknown> {
  if (!isKey(key)) throw invalidArg(`${where}: key must be made by createKey(), got ${describe(key)}`);
}
