// leashjs/leak: find async work that outlived the code that started it. verifyNone and snapshot for
// tests (goleak), runner plug-ins in leashjs/leak/node-test, leashjs/leak/vitest and leashjs/leak/jest,
// pprof-style profiles, a Chrome trace recorder, HTTP debug endpoints, and the `leash doctor` CLI.
export { type DebugHandler, type DebugHandlerOptions, debugHandler } from './debug-handler.js';
export type { IgnoreRule } from './ignore-rules.js';
export { withLabel } from './labels.js';
export type { Leak, LeakGroup } from './leak.js';
export { LeakError } from './leak-error.js';
export { type ProfileOptions, profile } from './profile.js';
export { type Snapshot, snapshot } from './snapshot.js';
export { startTrace, type TraceOptions, type TraceRecorder } from './trace-recorder.js';
export {
  type Counts,
  counts,
  startTracking,
  stopTracking,
  type TrackingMode,
  type TrackingOptions,
  trackingMode,
} from './tracker.js';
export { type VerifyOptions, verifyNone } from './verify-none.js';
