import type { Key } from './context.js';
import { invalidArg } from './errors.js';

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
    throw invalidArg(`createKey(name): name must be a string, got ${typeof name}`);
  return new ContextKey<T>(name);
}

/** @internal */
export function assertKey(key: unknown, where: string): asserts key is ContextKey<unknown> {
  if (!(key instanceof ContextKey)) {
    throw invalidArg(`${where}: key must be made by createKey(), got ${describe(key)}`);
  }
}

/** @internal A short description of a bad argument for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'object') return v.constructor?.name ? `an object (${v.constructor.name})` : 'an object';
  if (typeof v === 'string')
    return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}
