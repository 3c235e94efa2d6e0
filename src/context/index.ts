// leash: Go's context.Context for TypeScript. This file lists the public names of the core layer.
// It has no runtime dependencies and imports no other leash layer.
export { abortable } from './abortable.js';
export { afterFunc } from './after-func.js';
export { background, todo } from './background.js';
export { cause } from './cause.js';
export type { CancelCauseFunc, CancelFunc, Context, Key } from './context.js';
export { CanceledError, DeadlineExceededError, isCanceled, isDeadlineExceeded } from './errors.js';
export { fromSignal } from './from-signal.js';
export { isContext } from './internal.js';
export { createKey } from './key.js';
export { sleep } from './sleep.js';
export { withCancel, withCancelCause } from './with-cancel.js';
export {
  remaining,
  withDeadline,
  withDeadlineCause,
  withTimeout,
  withTimeoutCause,
} from './with-deadline.js';
export { withValue } from './with-value.js';
export { withoutCancel } from './without-cancel.js';
