import { background, type Context, todo } from '../context/index.js';

// docs/architecture.md: a deadline nothing waits on does not keep the process alive, but a leash operation
// blocked on a context with a deadline does, until it completes or the deadline passes, exactly as
// a pending timer would. Blocked channel operations count themselves here; while the count is
// above zero one ref'd handle keeps the event loop alive. The context's own (unref'd) deadline
// timer then still fires, cancels the context, and the operation unregisters, releasing its hold.
//
// One long interval is created once and only ref'd/unref'd (about 25 ns a toggle, measured on
// Node 20) rather than created and cleared per operation (about a microsecond). An unref'd timer
// is not listed by process.getActiveResourcesInfo(), so an idle process shows nothing.

let holds = 0;
let handle: NodeJS.Timeout | undefined;

function noop(): void {}

/** hold keeps the process alive until the matching release. */
export function hold(): void {
  if (holds++ === 0) {
    if (handle === undefined) handle = setInterval(noop, 0x7fffffff);
    else handle.ref();
  }
}

/** release ends one hold. */
export function release(): void {
  if (--holds === 0) handle!.unref();
}

/** heldCount is the number of operations holding the process alive, for tests. */
export function heldCount(): number {
  return holds;
}

const BACKGROUND = background();
const TODO = todo();

/** canEnd is false for the contexts that can never end, which need no callback and no hold. */
export function canEnd(ctx: Context): boolean {
  return ctx !== BACKGROUND && ctx !== TODO;
}
