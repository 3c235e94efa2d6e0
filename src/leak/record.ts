import { currentLabel, INTERNAL_LABEL } from './labels.js';

/** The kinds of live work leash tracks. */
export type RecordKind = 'task' | 'resource' | 'promise' | 'listener';

/**
 * Lineage links a creation stack to the stack that scheduled the callback it ran in, so a resource
 * Node creates inside a process.nextTick or DNS callback (net.Server.listen does) is still traced to
 * the application line that asked for it.
 */
export interface Lineage {
  readonly origin: Error;
  readonly parent: Lineage | undefined;
}

/**
 * TrackedRecord is the tracker's private bookkeeping for one piece of live work. Stacks are kept as
 * an Error whose .stack V8 formats only when read, so debug mode pays for capturing frames but never
 * for string formatting of work that turns out fine.
 */
export interface TrackedRecord {
  readonly id: number;
  readonly kind: RecordKind;
  type: string;
  readonly createdAt: number;
  readonly creatorId: number | undefined;
  /** promises: created as a continuation of a promise the tracker has no record of (from before tracking). */
  parentUntracked?: boolean;
  readonly label: string | undefined;
  readonly origin: Error | undefined;
  /** The stack of the callback this was created in, when known. */
  lineage: Lineage | undefined;
  /** resources: the async resource; listeners: the listener function. */
  target: unknown;
  /** listeners: the emitter, held weakly so a collected emitter ends its listeners. */
  emitter: WeakRef<object> | undefined;
  event: string | undefined;
  /** listeners: a stable number for the emitter, to group listeners piling up on one object. */
  emitterId: number | undefined;
  state: 'live' | 'settled' | 'abandoned' | 'closed';
  endedAt: number;
}

let lastId = 0;

/** currentId is the id of the newest record; a snapshot remembers it as its baseline. */
export function currentId(): number {
  return lastId;
}

// 40 frames: a resource made deep inside a library (an http.Agent socket, a pg query timer) still
// reaches the application frame that asked for it; the default of 10 often stops inside node_modules.
const STACK_DEPTH = 40;

/**
 * captureOrigin records the current stack without formatting it, leaving out `above` and every frame
 * above it. An unformatted V8 stack keeps each frame's receiver and function alive, so the frames of
 * leash's own wrappers (whose receiver is the emitter being watched) must not be in it.
 */
export function captureOrigin(above?: Function): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = STACK_DEPTH;
  const origin = new Error('created here');
  if (above !== undefined) Error.captureStackTrace(origin, above);
  Error.stackTraceLimit = limit;
  return origin;
}

/** newRecord creates a record stamped with the current label, or returns undefined for leash's own work. */
export function newRecord(
  kind: RecordKind,
  type: string,
  creatorId: number | undefined,
  target: unknown,
  above?: Function,
): TrackedRecord | undefined {
  const label = currentLabel();
  if (label === INTERNAL_LABEL) return undefined;
  return {
    id: ++lastId,
    kind,
    type,
    createdAt: Date.now(),
    creatorId,
    label,
    origin: captureOrigin(above),
    lineage: undefined,
    target,
    emitter: undefined,
    event: undefined,
    emitterId: undefined,
    state: 'live',
    endedAt: 0,
  };
}
