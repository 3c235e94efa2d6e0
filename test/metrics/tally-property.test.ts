// Property: whatever mix of lookups runs on caches (two of them sharing a name), and whenever a
// collector starts, the scrape counts exactly the lookups made since its start, by name and
// result, as the callers saw them (get returned a value or not; getOrLoad ran the loader or not).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { background } from 'leashjs';
import { createCache } from 'leashjs/cache';
import { collectMetrics } from 'leashjs/metrics';
import { Registry } from 'prom-client';
import { parseExposition, value } from './exposition.js';

const bg = background();

type Op =
  | { kind: 'get'; cache: number; key: number }
  | { kind: 'set'; cache: number; key: number }
  | { kind: 'delete'; cache: number; key: number }
  | { kind: 'load'; cache: number; key: number }
  | { kind: 'startMetrics' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('get' as const), cache: fc.nat(2), key: fc.nat(5) }),
  fc.record({ kind: fc.constant('set' as const), cache: fc.nat(2), key: fc.nat(5) }),
  fc.record({ kind: fc.constant('delete' as const), cache: fc.nat(2), key: fc.nat(5) }),
  fc.record({ kind: fc.constant('load' as const), cache: fc.nat(2), key: fc.nat(5) }),
  fc.constant({ kind: 'startMetrics' as const }),
);

let run = 0;

test('cache lookups in the scrape equal the lookups callers saw since the collector started', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { maxLength: 60 }), async (ops) => {
      run++;
      // Names unique to this run: the process table keeps every name, so earlier runs' counts
      // must not reach this one's (the collector only counts since its own start anyway).
      const names = [`p${run}-shared`, `p${run}-shared`, `p${run}-alone`];
      const caches = names.map((name) => createCache<number>({ name, maximumSize: 100 }));
      const expected = new Map<string, number>();
      const count = (name: string, result: 'hit' | 'miss') => {
        const k = `${name}/${result}`;
        expected.set(k, (expected.get(k) ?? 0) + 1);
      };
      const register = new Registry();
      let metrics: { stop(): void } | undefined;
      try {
        for (const op of ops) {
          if (op.kind === 'startMetrics') {
            if (metrics === undefined) metrics = collectMetrics({ register, eventLoop: false });
            continue;
          }
          const c = caches[op.cache]!;
          const name = names[op.cache]!;
          const key = `k${op.key}`;
          if (op.kind === 'set') c.set(key, op.key);
          else if (op.kind === 'delete') c.delete(key);
          else if (op.kind === 'get') {
            const v = c.get(key);
            if (metrics !== undefined) count(name, v === undefined ? 'miss' : 'hit');
          } else {
            let loaded = false;
            await c.getOrLoad(bg, key, async () => {
              loaded = true;
              return op.key;
            });
            if (metrics !== undefined) count(name, loaded ? 'miss' : 'hit');
          }
        }
        if (metrics === undefined) return;
        const e = parseExposition(await register.metrics());
        for (const name of new Set(names)) {
          for (const result of ['hit', 'miss'] as const) {
            const got = value(e, 'leash_cache_requests_total', { name, tier: 'memory', result }) ?? 0;
            assert.equal(got, expected.get(`${name}/${result}`) ?? 0, `${name} ${result}`);
          }
        }
      } finally {
        metrics?.stop();
      }
    }),
    { numRuns: 100 },
  );
});
