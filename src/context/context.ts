/**
 * A Context carries a cancellation signal, a deadline and request-scoped values across API
 * boundaries and between tasks. It is Go's `context.Context`, translated to TypeScript.
 *
 * Contexts form a tree: each is derived from a parent with {@link withCancel}, {@link withDeadline},
 * {@link withTimeout}, {@link withValue} or {@link withoutCancel}. Cancelling a context cancels all
 * of its descendants, synchronously, before `cancel()` returns.
 *
 * Programs should pass a Context explicitly, as the first parameter, typically named `ctx`; do not
 * store one in a long-lived object. Never pass `undefined` where a Context is expected: pass
 * {@link todo} when unsure which Context to use.
 *
 * Any object that implements this interface can be a parent, not only leash's own contexts (Go's
 * "custom context"): a child of a foreign context is cancelled when the foreign one's `signal`
 * aborts.
 */
export interface Context {
  /**
   * deadline is when work done on behalf of this context should be cancelled, in epoch
   * milliseconds as `Date.now()` counts them; `undefined` when there is none. A child's deadline is
   * never later than its parent's.
   */
  readonly deadline: number | undefined;
  /**
   * err is `undefined` while the context is live; once it is done, a {@link CanceledError} when it
   * was cancelled or a {@link DeadlineExceededError} when its deadline passed. It is set
   * synchronously, before the cancel function returns, and never changes again.
   */
  readonly err: Error | undefined;
  /**
   * signal is an `AbortSignal` that aborts when the context is done, with `reason` equal to
   * `cause(ctx)`. It is created on first read and costs nothing before; pass it to APIs that take a
   * signal (`fetch`, `events.once`, streams).
   */
  readonly signal: AbortSignal;
  /**
   * done is a promise that resolves (it never rejects) when the context is done. It is created on
   * first read. Once read, it keeps the process alive until the context's deadline, if it has one,
   * as Go's `<-ctx.Done()` blocks: `await ctx.done` waits for the deadline instead of letting the
   * process exit under it. Do not race it in a loop against work on a long-lived context: a pending promise
   * keeps every reaction attached to it. Use {@link abortable} instead.
   */
  readonly done: Promise<void>;
  /**
   * value returns the value stored under `key` by the nearest {@link withValue} on the path to the
   * root, or `undefined` when there is none.
   */
  value<T>(key: Key<T>): T | undefined;
}

/**
 * Key is a typed, unique key for {@link withValue}, made by {@link createKey}. Two keys are equal
 * only when they are the same object, whatever their names.
 */
export interface Key<T> {
  /** name is for debugging only; it plays no part in lookups. */
  readonly name: string;
  /** A phantom member that carries the value type; it never exists at run time. */
  readonly __type?: T;
}

/**
 * CancelFunc cancels its context and every descendant, and releases the resources they hold (links
 * to the parent, deadline timers). Calling it more than once does nothing. It is `Disposable`, so
 * `using _ = cancel` cancels at the end of the scope. Skipping it leaks the context's link in its
 * parent until the parent is done.
 */
export type CancelFunc = (() => void) & Disposable;

/**
 * CancelCauseFunc is a {@link CancelFunc} that records why: `cause(ctx)` returns the given cause
 * (or `ctx.err` when it is `undefined`). Only the first call has any effect.
 */
export type CancelCauseFunc = ((cause?: unknown) => void) & Disposable;
