// The building blocks of hostile arguments, shared by the fuzz suites: a value whose own code
// throws (HostileError, so a suite can tell it from an error leash raised), revoked proxies, and
// proxies whose every trap throws.

/** HostileError is what a hostile value throws from its own code; leash may let it through. */
export class HostileError extends Error {
  readonly code = 'HOSTILE';
}

/** hostile throws a HostileError: use it as a getter, trap, valueOf or then. */
export const hostile = (): never => {
  throw new HostileError('thrown by the argument itself');
};

/** revoked returns a revoked proxy of target: any operation on it throws a TypeError. */
export function revoked<T extends object>(target: T): T {
  const r = Proxy.revocable(target, {});
  r.revoke();
  return r.proxy;
}

/** throwingTraps makes a proxy whose reads, `in`, key listing and prototype lookups all throw. */
export const throwingTraps: ProxyHandler<object> = {
  get: hostile,
  has: hostile,
  ownKeys: hostile,
  getPrototypeOf: hostile,
  getOwnPropertyDescriptor: hostile,
};

/** isLeashOrOwn: the only errors a fuzzed call may raise are leash's (LEASH_ERR_*) or the hostile value's own. */
export function isLeashOrOwn(e: unknown): boolean {
  if (e instanceof HostileError) return true;
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('LEASH_ERR_');
}

/** describeError names an error for a failure message, whatever it is. */
export function describeError(e: unknown): string {
  try {
    return `${(e as Error)?.name}: ${(e as Error)?.message} (code ${String((e as { code?: unknown })?.code)})`;
  } catch {
    return String(e);
  }
}
