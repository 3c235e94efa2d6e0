import { constants } from 'node:os';
import { afterFunc, type CancelFunc, type Context, withCancelCause } from '../context/index.js';
import { assertContext } from './assert-context.js';
import { invalidArg } from './errors.js';

/**
 * SignalError is the cause (`cause(ctx)`) of a context that `signalContext` cancelled because the
 * process received `signal`. Code `LEASH_ERR_SIGNAL`.
 */
export class SignalError extends Error {
  readonly code = 'LEASH_ERR_SIGNAL';
  readonly signal: NodeJS.Signals;
  constructor(signal: NodeJS.Signals) {
    super(`received ${signal}`);
    this.name = 'SignalError';
    this.signal = signal;
  }
}

/**
 * signalContext is Go's `signal.NotifyContext`: a child of `parent` that is cancelled, with a
 * `SignalError` cause, when the process receives one of `signals`. Its listeners are removed as
 * soon as the context is done (by a signal, by `parent`, or by the returned cancel function), so
 * the signals' default behaviour comes back: a second Ctrl-C after the first kills the process as
 * usual. While the context is live, the listeners replace Node's default action for those signals
 * (a SIGINT does not exit the process by itself), so call cancel when you no longer need it.
 * A name that is not in `os.constants.signals` (a typo) throws TypeError (LEASH_ERR_INVALID_ARG).
 *
 * @example
 * const [ctx, stop] = signalContext(background(), ['SIGINT', 'SIGTERM']);
 * await server.run(ctx); // returns when a signal cancels ctx
 * stop();
 */
export function signalContext(parent: Context, signals: NodeJS.Signals[]): [Context, CancelFunc] {
  if (!Array.isArray(signals) || signals.length === 0 || !signals.every((s) => typeof s === 'string'))
    throw invalidArg('signalContext: signals must be a non-empty array of signal names such as "SIGINT"');
  // A misspelt name ('SIGTERN') would add a listener that never fires: a context that never ends.
  for (const s of signals)
    if (!Object.hasOwn(constants.signals, s))
      throw invalidArg(
        `signalContext: unknown signal ${JSON.stringify(s)}; expected a name from os.constants.signals such as "SIGINT" or "SIGTERM"`,
      );
  assertContext(parent, 'signalContext(parent, signals)');
  const [ctx, cancelCause] = withCancelCause(parent);
  const onSignal = (signal: NodeJS.Signals) => cancelCause(new SignalError(signal));
  const unique = [...new Set(signals)];
  for (const s of unique) process.on(s, onSignal);
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    for (const s of unique) process.removeListener(s, onSignal);
  };
  const stop = afterFunc(ctx, remove);
  const cancel = () => {
    cancelCause();
    stop();
    remove();
  };
  return [ctx, Object.assign(cancel, { [Symbol.dispose]: cancel })];
}
