// The invalidation bus: Redis pub/sub between every process using one cache name, so that a set or a
// delete on one of them evicts the key from every other's memory tier.
//
// Messages carry no values, only what changed and its Redis version: `{ o, op: 'set' | 'del', k,
// v }`, `{ o, op: 'tag', t }` and `{ o, op: 'clear' }`, as JSON, `o` being the sending cache's
// origin id (a process ignores its own). A receiver evicts a key only when the message's version is
// above the version of the value it holds, and remembers the version as a fence so that a read
// answered late (with an older version) is not stored after it: a late or reordered message never
// brings old data back. The subscriber is a duplicate of the command connection; ioredis
// resubscribes after a reconnect, and since messages sent while it was away are lost, the cache then
// clears its memory tier (every key is read again from Redis).

import { randomUUID } from 'node:crypto';
import type { CacheRedisClient, CacheRedisSubscriber } from './redis-tier.js';

/** BusMessage is one message on the bus. */
export type BusMessage =
  | { readonly o: string; readonly op: 'set' | 'del'; readonly k: string; readonly v: number }
  | { readonly o: string; readonly op: 'tag'; readonly t: string }
  | { readonly o: string; readonly op: 'clear' };

/** BusHandlers receive what arrives: other origins' messages, a reconnect, an error of the subscriber. */
export interface BusHandlers {
  message(m: BusMessage): void;
  resubscribed(): void;
  error(e: unknown): void;
}

/** InvalidationBus is one cache's subscription. Not a public export. */
export class InvalidationBus {
  readonly origin = randomUUID();
  readonly channel: string;
  readonly #sub: CacheRedisSubscriber & {
    readonly status?: string;
    once?(event: 'end', listener: () => void): unknown;
  };
  readonly #subscribed: Promise<void>;
  #readies = 0;

  constructor(client: CacheRedisClient, name: string, handlers: BusHandlers) {
    this.channel = `leash:cache:{${name}}:bus`;
    const sub = (client.duplicate as () => CacheRedisSubscriber).call(client);
    this.#sub = sub;
    sub.on('message', (channel, text) => {
      if (channel !== this.channel) return;
      let m: BusMessage;
      try {
        m = JSON.parse(text) as BusMessage;
      } catch (e) {
        handlers.error(e);
        return;
      }
      if (m === null || typeof m !== 'object' || m.o === this.origin) return;
      handlers.message(m);
    });
    sub.on('ready', () => {
      if (++this.#readies > 1) handlers.resubscribed();
    });
    sub.on('error', (e) => handlers.error(e));
    this.#subscribed = sub.subscribe(this.channel).then(
      () => {},
      (e: unknown) => handlers.error(e),
    );
  }

  /** subscribed resolves once the first subscription is confirmed (or failed). */
  get subscribed(): Promise<void> {
    return this.#subscribed;
  }

  /** message builds a message from this origin. */
  encode(
    m: Omit<{ op: 'set' | 'del'; k: string; v: number }, 'o'> | { op: 'tag'; t: string } | { op: 'clear' },
  ): string {
    return JSON.stringify({ o: this.origin, ...m });
  }

  /** close disconnects the subscriber and resolves when its connection has ended. */
  async close(): Promise<void> {
    const sub = this.#sub;
    if (sub.status === 'end') return;
    await new Promise<void>((resolve) => {
      if (typeof sub.once === 'function') sub.once('end', resolve);
      sub.disconnect();
      if (typeof sub.once !== 'function') resolve();
    });
  }
}
