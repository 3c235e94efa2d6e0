// The memory tier: a Map from key to slot (values, expiries and entries in arrays by slot),
// bounded by W-TinyLFU, with per-entry time to live, refresh-after-write and a stale grace.
// Synchronous throughout; getOrLoad and the loaders live in cache.ts and single-flight.ts.
//
// Times: an entry written at `t` is fresh until `t + ttlMs` (its hard expiry; get() never returns
// it after that), is due for a background refresh from `t + refreshAfterMs`, and is kept, for
// getOrLoad to serve while a refresh runs, until `t + ttlMs + staleMs`; after that it is removed
// the next time anything looks at it, or evicted by the policy before, like any cold entry.

import { invalidArg } from '../context/internal.js';
import { hashKey } from './frequency-sketch.js';
import { NO_SLOT, WTinyLfu } from './w-tiny-lfu.js';

/** Entry is one cached value and its times. Read-only outside the memory tier (except `version`). */
export interface Entry<V> {
  readonly key: string;
  /** slot is the entry's index in the tier's per-slot arrays and the policy's, NO_SLOT once it has left. */
  slot: number;
  value: V;
  writtenAt: number;
  expiresAt: number;
  refreshAt: number;
  retainUntil: number;
  tags: readonly string[] | undefined;
  /** version is the Redis tier's version of this value (0 when not known: memory only, or not written yet). */
  version: number;
}

/** MemoryTierOptions configures a MemoryTier; validated by createCache. */
export interface MemoryTierOptions<V> {
  readonly maximum: number;
  readonly weigh?: ((key: string, value: V) => number) | undefined;
  readonly ttlMs?: number | undefined;
  readonly refreshAfterMs?: number | undefined;
  readonly staleMs?: number | undefined;
  /** clock returns milliseconds on a monotonic scale; performance.now by default (tests inject one). */
  readonly clock?: (() => number) | undefined;
}

/**
 * MemoryTier holds at most `maximum` weight of entries (entries when there is no `weigh`). Not a
 * public export: createCache wraps it. Every method is synchronous and O(1) amortised, except
 * deleteByTag (O(entries with the tag)) and clear (O(entries)).
 */
export class MemoryTier<V> {
  // Key to slot. A hit reads the value and the hard expiry from the per-slot arrays below and
  // tells the policy the slot: it never touches the entry object (see WTinyLfu on why slots).
  readonly #map = new Map<string, number>();
  #entries: (Entry<V> | null)[] = [];
  #values: (V | undefined)[] = [];
  #expiresAt = new Float64Array(64);
  readonly #tags = new Map<string, Set<Entry<V>>>();
  readonly #policy: WTinyLfu;
  readonly #weigh: ((key: string, value: V) => number) | undefined;
  readonly #ttlMs: number;
  readonly #refreshAfterMs: number;
  readonly #staleMs: number;
  readonly clock: () => number;
  #mayExpire = false;
  hits = 0;
  misses = 0;
  evictions = 0;
  expirations = 0;

  constructor(o: MemoryTierOptions<V>) {
    this.#weigh = o.weigh;
    this.#ttlMs = o.ttlMs ?? Number.POSITIVE_INFINITY;
    this.#refreshAfterMs = o.refreshAfterMs ?? Number.POSITIVE_INFINITY;
    this.#staleMs = o.staleMs ?? 0;
    this.clock = o.clock ?? (() => performance.now());
    this.#policy = new WTinyLfu(
      o.maximum,
      (slot) => {
        this.evictions++;
        this.#forget(this.#entries[slot] as Entry<V>);
      },
      o.weigh !== undefined,
    );
  }

  /** size is the number of entries held (including expired ones not yet looked at). */
  get size(): number {
    return this.#map.size;
  }

  /** weight is the total weight held. */
  get weight(): number {
    return this.#policy.weight;
  }

  /** maximum is the bound on weight (or on entries). */
  get maximum(): number {
    return this.#policy.maximum;
  }

  /** get returns the fresh value for `key`, or undefined (absent, expired or deleted). Counts a hit or a miss. */
  get(key: string): V | undefined {
    const s = this.#map.get(key);
    // No clock read while no entry can expire (the clock is a third of a hit's cost). What is not
    // the common hit stays out of line, so that V8 inlines get() into its callers.
    if (s !== undefined && (!this.#mayExpire || this.#unexpired(s))) {
      this.hits++;
      this.#policy.hit(s);
      return this.#values[s];
    }
    this.misses++;
    return undefined;
  }

  /** unexpired reports whether slot `s` is fresh now, expiring its entry once past its stale grace. */
  #unexpired(s: number): boolean {
    const now = this.clock();
    if (now < (this.#expiresAt[s] as number)) return true;
    const e = this.#entries[s] as Entry<V>;
    if (now >= e.retainUntil) this.#expire(e);
    return false;
  }

  /**
   * lookup returns the entry for `key` if it may still be served (fresh, or within its stale
   * grace), recording an access when it is fresh, or undefined after recording a miss. The caller
   * decides what to do with a stale or refresh-due entry by comparing `now` with its times.
   */
  lookup(key: string, now: number): Entry<V> | undefined {
    const e = this.peek(key);
    if (e !== undefined) {
      if (now < e.retainUntil) {
        if (now < e.expiresAt) {
          this.hits++;
          this.#policy.hit(e.slot);
        }
        return e;
      }
      this.#expire(e);
    }
    this.misses++;
    return undefined;
  }

  /** has reports whether `key` has a fresh value, without counting an access. */
  has(key: string): boolean {
    const s = this.#map.get(key);
    return s !== undefined && this.clock() < (this.#expiresAt[s] as number);
  }

  /**
   * set stores `value` under `key`, replacing any entry, with the tier's times or `ttlMs` for this
   * entry. An entry heavier than the maximum is not kept (and evicts nothing else). Throws
   * LEASH_ERR_INVALID_ARG when `weigh` returns anything but a non-negative integer.
   */
  set(key: string, value: V, ttlMs?: number, tags?: readonly string[], version = 0): Entry<V> | undefined {
    const weight = this.#weightOf(key, value);
    const now = this.clock();
    const ttl = ttlMs ?? this.#ttlMs;
    if (weight > this.#policy.maximum) {
      this.delete(key);
      return undefined;
    }
    const old = this.peek(key);
    if (old !== undefined) this.#untag(old);
    const e: Entry<V> =
      old ??
      ({
        key,
        slot: NO_SLOT,
        value,
        writtenAt: now,
        expiresAt: 0,
        refreshAt: 0,
        retainUntil: 0,
        tags: undefined,
        version: 0,
      } as Entry<V>);
    e.value = value;
    e.writtenAt = now;
    e.expiresAt = now + ttl;
    if (ttl !== Number.POSITIVE_INFINITY) this.#mayExpire = true;
    e.refreshAt = now + Math.min(this.#refreshAfterMs, ttl);
    e.retainUntil = e.expiresAt + this.#staleMs;
    e.tags = tags && tags.length > 0 ? tags : undefined;
    e.version = version;
    this.#tag(e);
    if (old !== undefined) {
      this.#values[old.slot] = value;
      this.#expiresAt[old.slot] = e.expiresAt;
      this.#policy.setWeight(old.slot, weight);
    } else {
      const s = this.#policy.slotFor(hashKey(key), weight);
      if (s >= this.#expiresAt.length) this.#grow();
      e.slot = s;
      this.#entries[s] = e; // s is at most the length: the arrays stay without holes
      this.#values[s] = value;
      this.#expiresAt[s] = e.expiresAt;
      this.#map.set(key, s);
      this.#policy.add(s);
    }
    // The policy may have evicted the entry at once (admission lost to a hotter victim).
    return e.slot !== NO_SLOT ? e : undefined;
  }

  /** peek returns the entry for `key` (fresh, stale or expired), counting nothing and moving nothing. */
  peek(key: string): Entry<V> | undefined {
    const s = this.#map.get(key);
    return s === undefined ? undefined : (this.#entries[s] as Entry<V>);
  }

  /** delete removes `key`; true when an entry (fresh or not) was there. */
  delete(key: string): boolean {
    const e = this.peek(key);
    if (e === undefined) return false;
    this.#policy.remove(e.slot);
    this.#forget(e);
    return true;
  }

  /** deleteByTag removes every entry stored with `tag`, returning their keys. */
  deleteByTag(tag: string): string[] {
    const set = this.#tags.get(tag);
    if (!set) return [];
    const keys: string[] = [];
    for (const e of [...set]) {
      keys.push(e.key);
      this.delete(e.key);
    }
    return keys;
  }

  /** clear removes every entry. */
  clear(): void {
    this.#policy.clear();
    for (const e of this.#entries) if (e) e.slot = NO_SLOT;
    this.#entries = [];
    this.#values = [];
    this.#map.clear();
    this.#tags.clear();
  }

  /** keys lists the keys held (fresh or stale), for tests and revalidation. */
  keys(): string[] {
    return [...this.#map.keys()];
  }

  #expire(e: Entry<V>): void {
    this.expirations++;
    this.#policy.remove(e.slot);
    this.#forget(e);
  }

  /** forget drops an entry the policy has let go of (its slot free for the next set). */
  #forget(e: Entry<V>): void {
    const s = e.slot;
    if (s !== NO_SLOT) {
      if (this.#map.get(e.key) === s) this.#map.delete(e.key);
      this.#entries[s] = null;
      this.#values[s] = undefined;
      e.slot = NO_SLOT;
    }
    this.#untag(e);
  }

  #grow(): void {
    const expiresAt = new Float64Array(this.#expiresAt.length * 2);
    expiresAt.set(this.#expiresAt);
    this.#expiresAt = expiresAt;
  }

  #tag(e: Entry<V>): void {
    if (!e.tags) return;
    for (const t of e.tags) {
      let set = this.#tags.get(t);
      if (!set) this.#tags.set(t, (set = new Set()));
      set.add(e);
    }
  }

  #untag(e: Entry<V>): void {
    if (!e.tags) return;
    for (const t of e.tags) {
      const set = this.#tags.get(t);
      if (!set) continue;
      set.delete(e);
      if (set.size === 0) this.#tags.delete(t);
    }
  }

  #weightOf(key: string, value: V): number {
    if (!this.#weigh) return 1;
    let w: unknown;
    try {
      w = this.#weigh(key, value);
    } catch (cause) {
      throw Object.assign(
        invalidArg(`createCache(options): weigh(key, value) threw for key ${JSON.stringify(key)}`),
        {
          cause,
        },
      );
    }
    if (typeof w !== 'number' || !Number.isInteger(w) || w < 0) {
      throw invalidArg(
        `createCache(options): weigh(key, value) must return a non-negative integer, got ${String(w)} for key ${JSON.stringify(key)}`,
      );
    }
    return w;
  }
}
