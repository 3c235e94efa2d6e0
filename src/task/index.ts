// leashjs/task: goroutine-style tasks, errgroup, channels and select, all bound to a Context.
export { Channel, type RecvResult } from './channel.js';
export { ChannelClosedError, GroupDoneError } from './errors.js';
export { Group } from './group.js';
export {
  go,
  setTaskStacks,
  type TaskEndMessage,
  type TaskHandle,
  type TaskInfo,
  type TaskStartMessage,
  type TaskState,
  type TaskUnhandledMessage,
  taskCount,
  taskOf,
  taskStacksEnabled,
  tasks,
  withTaskState,
} from './registry.js';
export {
  type CheckedCases,
  type DefaultResult,
  type RecvCase,
  type SelectCase,
  type SelectOptions,
  type SelectResult,
  type SendCase,
  select,
} from './select.js';
export { SignalError, signalContext } from './signal-context.js';
export { after, ticker } from './ticker.js';
