import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context } from '../context/index.js';

// One store for every adapter: a request handled by any of them sees its own context here.
const store = new AsyncLocalStorage<Context>();

/**
 * currentContext returns the context of the request being handled, through AsyncLocalStorage, for
 * code that cannot take a `ctx` parameter (a logger, a third-party callback). It returns undefined
 * outside a request handled by a leash adapter. Passing `ctx` explicitly is still the better habit:
 * it shows in the signature which calls can be cancelled.
 */
export function currentContext(): Context | undefined {
  return store.getStore();
}

/** runWithContext runs fn with ctx as the current context (internal to the adapters). */
export function runWithContext<R>(ctx: Context, fn: () => R): R {
  return store.run(ctx, fn);
}

/** runWithout runs fn as is: the adapters' runner when asyncLocalStorage is false. */
function runWithout<R>(_ctx: Context, fn: () => R): R {
  return fn();
}

/** contextRunner picks, once per adapter, how its handlers are run. */
export function contextRunner(useStorage: boolean | undefined): <R>(ctx: Context, fn: () => R) => R {
  return useStorage === false ? runWithout : runWithContext;
}
