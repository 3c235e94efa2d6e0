// The ghost list against a naive model (fast-check): the last `capacity` evictions, each found at
// most once, with exact counts per side.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { GhostList, REFUSED, VICTIM } from './ghost-list.js';

test('ghost list: a recorded key is found once, with its side, until `capacity` later evictions push it out', () => {
  const g = new GhostList(16);
  g.record(7, REFUSED);
  g.record(8, VICTIM);
  assert.equal(g.refused, 1);
  assert.equal(g.victims, 1);
  assert.equal(g.take(8), VICTIM);
  assert.equal(g.take(8), -1, 'taken once');
  assert.equal(g.victims, 0);
  for (let i = 0; i < 14; i++) g.record(100 + i, VICTIM);
  assert.equal(g.take(7), REFUSED, 'the 16th eviction back is still remembered');
  g.record(7, REFUSED);
  for (let i = 0; i < 16; i++) g.record(200 + i, VICTIM);
  assert.equal(g.take(7), -1, '16 evictions later it is forgotten');
  assert.equal(g.refused, 0);
  assert.equal(g.victims, 16);
});

test('ghost list: evicted again, a key is one ghost of its latest side', () => {
  const g = new GhostList(16);
  g.record(5, REFUSED);
  g.record(5, VICTIM);
  assert.equal(g.refused, 0);
  assert.equal(g.victims, 1);
  assert.equal(g.take(5), VICTIM);
  assert.equal(g.take(5), -1);
  // 0 and 8 share a bucket: with 0 taken, its way is free, and 8 recorded again must still replace
  // its own ghost rather than take the free way beside it.
  g.record(0, REFUSED);
  g.record(8, VICTIM);
  assert.equal(g.take(0), REFUSED);
  g.record(8, REFUSED);
  assert.equal(g.refused, 1);
  assert.equal(g.victims, 0);
  assert.equal(g.take(8), REFUSED);
  assert.equal(g.take(8), -1);
});

test('ghost list: take(h, refusedWithin) forgets a refused ghost older than refusedWithin, not a victim', () => {
  const g = new GhostList(16);
  g.record(1, REFUSED);
  g.record(2, VICTIM);
  for (let h = 100; h < 105; h++) g.record(h, REFUSED);
  // 1 is 6 evictions old, 2 is 5.
  assert.equal(g.take(1, 5), -1, 'too old for the window to have kept');
  assert.equal(g.refused, 5, 'and forgotten: its count dropped');
  assert.equal(g.take(1), -1, 'taken once');
  assert.equal(g.take(2, 0), VICTIM, 'a victim answers whatever its age');
  assert.equal(g.take(104, 0), REFUSED, 'the last eviction is 0 old');
  assert.equal(g.take(103, 1), REFUSED);
});

test('ghost list: matches a model of the last `capacity` evictions (fast-check)', () => {
  // Hashes 0..31 in a list of capacity 16 (8 buckets of 4 ways): at most 4 distinct hashes share a
  // bucket, so no ghost is lost to a full bucket and the list must answer as the model does. Half
  // of them from two buckets, so that keys sharing a bucket (ways emptied by take, reused, the same
  // key recorded again beside them) come up in most runs.
  const hash = fc.oneof(fc.nat(31), fc.constantFrom(0, 8, 16, 24, 1, 9, 17, 25));
  type Op =
    | { kind: 'record'; h: number; side: 0 | 1 }
    | { kind: 'take'; h: number; within: number }
    | { kind: 'clear' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      arbitrary: fc.record({
        kind: fc.constant('record' as const),
        h: hash,
        side: fc.constantFrom(0 as const, 1 as const),
      }),
      weight: 6,
    },
    {
      arbitrary: fc.record({ kind: fc.constant('take' as const), h: hash, within: fc.nat(20) }),
      weight: 3,
    },
    { arbitrary: fc.constant({ kind: 'clear' as const }), weight: 1 },
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
      const g = new GhostList(16);
      // The model: every eviction in order, the ones still counted marked live.
      let log: { h: number; side: 0 | 1; live: boolean }[] = [];
      for (const o of ops) {
        if (o.kind === 'record') {
          for (const e of log) if (e.h === o.h) e.live = false;
          log.push({ h: o.h, side: o.side, live: true });
          g.record(o.h, o.side);
        } else if (o.kind === 'take') {
          const i = log.findIndex((x, j) => j >= log.length - 16 && x.h === o.h && x.live);
          const e = log[i];
          if (e) e.live = false;
          // A refused ghost older than `within` evictions is forgotten and answers -1.
          const expected =
            e === undefined || (e.side === REFUSED && log.length - 1 - i > o.within) ? -1 : e.side;
          assert.equal(g.take(o.h, o.within), expected);
        } else {
          log = log.map((e) => ({ ...e, live: false }));
          g.clear();
        }
        const recent = log.slice(-16).filter((e) => e.live);
        assert.equal(g.refused, recent.filter((e) => e.side === REFUSED).length, 'refused count');
        assert.equal(g.victims, recent.filter((e) => e.side === VICTIM).length, 'victim count');
      }
    }),
    { numRuns: 500 },
  );
});
