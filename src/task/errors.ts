/**
 * ChannelClosedError is the error of a send on a closed channel (pending or later sends reject
 * with it; `trySend` throws it) and of closing a channel twice. In Go both are panics; here they
 * are errors with the stable code `LEASH_ERR_CHANNEL_CLOSED`, because they are bugs in the
 * program's protocol: only the sending side should close, once, after its last send.
 */
export class ChannelClosedError extends Error {
  readonly code = 'LEASH_ERR_CHANNEL_CLOSED';
  constructor(
    message = 'send on closed channel: only the sending side should close a channel, after its last send',
  ) {
    super(message);
    this.name = 'ChannelClosedError';
  }
}

/**
 * GroupDoneError is thrown by `Group.go` and `Group.tryGo` once the group's `wait()` has settled:
 * the group has reported its result and cancelled its context, so new work would be unaccounted
 * for. Code `LEASH_ERR_GROUP_DONE`; make a new Group for a new batch of work.
 */
export class GroupDoneError extends Error {
  readonly code = 'LEASH_ERR_GROUP_DONE';
  constructor() {
    super('Group.go called after wait() settled: make a new Group for a new batch of work');
    this.name = 'GroupDoneError';
  }
}

// invalidArg lives in the core's internal surface (one home for every layer); re-exported so that
// existing imports from this file keep working.
export { invalidArg } from '../context/internal.js';
