// assertContext lives in the core's internal surface (one home, one message for every layer:
// issue 9); re-exported so that existing imports from this file keep working.
export { assertContext } from '../context/internal.js';
