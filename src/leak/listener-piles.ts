import { type Frame, packageOf, topFrame } from './stack-frames.js';

/**
 * LIBRARY_PILE is how many listeners one line of a library may attach to one emitter and event
 * before they count as piling up: Node's own default for `EventEmitter.defaultMaxListeners`, where
 * it warns of a possible leak. A library attaches a fixed number of listeners per object (pg puts
 * two 'end' listeners on each socket), which is not growth.
 */
export const LIBRARY_PILE = 11;

/**
 * isListenerPile reports whether `count` listeners attached from one creation line to one emitter
 * and event are piling up. A pile-up is growth: the application's own line attaching to the same
 * emitter and event twice has run once too often (a listener per request on a long-lived emitter),
 * while a library's line is trusted up to Node's warning threshold. `frames` are the listeners'
 * creation frames.
 */
export function isListenerPile(count: number, frames: readonly Frame[]): boolean {
  const top = topFrame(frames);
  const library = top !== undefined && packageOf(top) !== undefined;
  return count >= (library ? LIBRARY_PILE : 2);
}
