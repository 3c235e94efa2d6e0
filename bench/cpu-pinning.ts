// Pinning for the HTTP benchmarks: the server on core 1, the load generator on core 0, so neither
// steals the other's CPU time and the server is the bottleneck.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/** canPin is true on Linux with taskset and at least 2 cores; elsewhere nothing is pinned. */
export const canPin =
  process.platform === 'linux' &&
  availableParallelism() >= 2 &&
  spawnSync('taskset', ['-c', '0', 'true']).status === 0;

/** pinned returns the command and arguments that run `node ...args` on the given core when canPin. */
export function pinned(cpu: number, args: string[]): [string, string[]] {
  return canPin ? ['taskset', ['-c', String(cpu), process.execPath, ...args]] : [process.execPath, args];
}
