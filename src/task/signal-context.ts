import { constants } from 'node:os';
import { afterFunc, type CancelFunc, type Context, withCancelCause } from '../context/index.js';
import { assertContext, describe, invalidArg } from '../context/internal.js';

// Signals no process can catch: Node refuses a listener for them (EINVAL from uv_signal_start).
const UNCATCHABLE = new Set(['SIGKILL', 'SIGSTOP']);

// Reads `signals` once into a checked array of names, before anything is installed.
function signalNames(signals: unknown, where: string): NodeJS.Signals[] {
  let names: unknown[];
  try {
    if (!Array.isArray(signals)) throw undefined;
    names = Array.from(signals as unknown[]);
  } catch (cause) {
    throw Object.assign(
      invalidArg(
        `${where}: signals must be a non-empty array of signal names such as ["SIGINT", "SIGTERM"], got ${describe(signals)}`,
      ),
      cause === undefined ? {} : { cause },
    );
  }
  if (names.length === 0) {
    throw invalidArg(`${where}: signals is empty; name at least one, such as ["SIGINT", "SIGTERM"]`);
  }
  for (const s of names) {
    if (typeof s !== 'string') {
      throw invalidArg(`${where}: signals must hold signal names such as "SIGINT", got ${describe(s)}`);
    }
    // A misspelt name ('SIGTERN') would add a listener that never fires: a context that never ends.
    if (!Object.hasOwn(constants.signals, s)) {
      throw invalidArg(
        `${where}: unknown signal ${JSON.stringify(s)}; expected a name from os.constants.signals such as "SIGINT" or "SIGTERM"`,
      );
    }
    if (UNCATCHABLE.has(s)) {
      throw invalidArg(
        `${where}: ${s} cannot be caught by any process, so it can never cancel a context; use SIGTERM or SIGINT`,
      );
    }
  }
  return [...new Set(names as NodeJS.Signals[])];
}

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
 * A bad `parent`, an empty or non-array `signals`, a name that is not in `os.constants.signals`
 * (a typo) and an uncatchable signal (SIGKILL, SIGSTOP) throw TypeError (LEASH_ERR_INVALID_ARG)
 * before any listener is installed, so a failed call leaves the process's signal handling as it
 * was. Calling the returned cancel more than once does nothing.
 *
 * @example
 * const [ctx, stop] = signalContext(background(), ['SIGINT', 'SIGTERM']);
 * await server.run(ctx); // returns when a signal cancels ctx
 * stop();
 */
export function signalContext(parent: Context, signals: NodeJS.Signals[]): [Context, CancelFunc] {
  const where = 'signalContext(parent, signals)';
  assertContext(parent, where);
  const unique = signalNames(signals, where);
  const [ctx, cancelCause] = withCancelCause(parent);
  const onSignal = (signal: NodeJS.Signals) => cancelCause(new SignalError(signal));
  const installed: NodeJS.Signals[] = [];
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    for (const s of installed) process.removeListener(s, onSignal);
  };
  try {
    for (const s of unique) {
      process.on(s, onSignal);
      installed.push(s);
    }
  } catch (cause) {
    // The platform refused one (a signal this OS cannot deliver): undo the others, so no
    // listener is left replacing a signal's default action.
    remove();
    cancelCause();
    throw Object.assign(invalidArg(`${where}: cannot listen for a signal: ${String(cause)}`), { cause });
  }
  const stop = afterFunc(ctx, remove);
  const cancel = () => {
    cancelCause();
    stop();
    remove();
  };
  return [ctx, Object.assign(cancel, { [Symbol.dispose]: cancel })];
}
