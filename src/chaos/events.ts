// Diagnostics for leashjs/chaos on node:diagnostics_channel. Nothing is built or published when
// nobody listens; every payload is a new frozen plain object (docs/diagnostics.md).
import diagnostics_channel from 'node:diagnostics_channel';
import type { ChaosFault } from './errors.js';

/** ChaosVia names where a fault was injected. */
export type ChaosVia = 'policy' | 'middleware' | 'fetch' | 'pg' | 'decide';

/** ChaosInjectedEvent is the payload of `leash:chaos:injected`: a fault was chosen for one call. */
export interface ChaosInjectedEvent {
  /** name is the controller's name. */
  readonly name: string;
  /** fault is the kind of fault injected. */
  readonly fault: ChaosFault;
  /** via is the integration that injects it. */
  readonly via: ChaosVia;
  /** seq is the number of the decision (1 for the first since the last seed) that chose it. */
  readonly seq: number;
  /** ms is the delay (latency) or the busy time (cpu), else undefined. */
  readonly ms: number | undefined;
}

/** @internal The channel of injected faults. */
export const injectedChannel: diagnostics_channel.Channel =
  diagnostics_channel.channel('leash:chaos:injected');
