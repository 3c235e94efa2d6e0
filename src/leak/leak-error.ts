import { assertNumber, describe, invalidArg } from '../context/internal.js';
import { formatGroups, groupLeaks, type Leak, type LeakGroup } from './leak.js';

/**
 * LeakError is what verifyNone rejects with (code LEASH_ERR_LEAK) when work started by the code
 * under test is still alive after the wait, or was proven abandoned. The message lists the leaks
 * grouped by identical creation stack, largest group first, each with count, kind, state, age and
 * the application's own creation site first. `leaks` holds one structured record per leak and
 * `groups` the grouping the message shows.
 */
export class LeakError extends Error {
  readonly code = 'LEASH_ERR_LEAK';
  readonly leaks: readonly Leak[];
  readonly groups: readonly LeakGroup[];

  constructor(leaks: readonly Leak[], waitedMs: number) {
    if (!isLeakList(leaks)) {
      throw invalidArg(
        `new LeakError(leaks, waitedMs): leaks must be an array of Leak records (from verifyNone), got ${describe(leaks)}`,
      );
    }
    assertNumber(waitedMs, 'new LeakError(leaks, waitedMs)', 'waitedMs', { min: 0, unit: 'milliseconds' });
    const groups = groupLeaks(leaks);
    super(
      `${leaks.length} leaked ${leaks.length === 1 ? 'item' : 'items'} in ${groups.length} ${
        groups.length === 1 ? 'group' : 'groups'
      } still alive after waiting ${Math.round(waitedMs)} ms. Stop or await each one at its creation site ` +
        '(clear the timer, close the socket or server, remove the listener, settle or abandon the promise through ' +
        'a context), or pass { ignore: [...] } or a baseline snapshot() for work meant to outlive the check.\n\n' +
        formatGroups(groups),
    );
    this.name = 'LeakError';
    this.leaks = leaks;
    this.groups = groups;
  }
}

// Whether `v` is an array of Leak-shaped records; never throws (revoked proxies, throwing getters).
function isLeakList(v: unknown): v is readonly Leak[] {
  try {
    return (
      Array.isArray(v) &&
      v.every(
        (l: Leak) =>
          typeof l === 'object' &&
          l !== null &&
          typeof l.kind === 'string' &&
          typeof l.type === 'string' &&
          typeof l.state === 'string' &&
          typeof l.site === 'string' &&
          typeof l.ageMs === 'number' &&
          Array.isArray(l.stack) &&
          l.stack.every((f) => typeof f === 'string'),
      )
    );
  } catch {
    return false;
  }
}
