// leashjs/load: the open-model load generator behind `leash load`, as a library. This file lists
// the public names of the load layer.
export type { FailureKind } from './connection.js';
export { Histogram } from './histogram.js';
export { LOAD_EXIT, loadCommand } from './load-command.js';
export { type LoadOptions, type LoadResult, runLoad } from './run-load.js';
export { METRICS, parseThreshold, type Threshold, type ThresholdOp } from './thresholds.js';
