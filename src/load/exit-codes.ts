// The exit codes of `leash load`, in a file of their own so that the report can name them
// without importing the command.

/** LOAD_EXIT lists the exit codes of `leash load`. */
export const LOAD_EXIT = Object.freeze({
  /** Every threshold held and nothing leaked. */
  pass: 0,
  /** Usage error: an unknown option or metric, a malformed value. */
  usage: 2,
  /** The target leaked: more live tasks or active handles after the run than before. */
  leaked: 3,
  /** A threshold other than a leak one failed. */
  slaFailed: 5,
  /** The target (or its debug endpoint) could not be reached. */
  unreachable: 6,
  /** leash load itself failed (the --json file, the demo). */
  failure: 125,
});
