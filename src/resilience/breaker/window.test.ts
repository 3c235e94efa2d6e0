import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CountWindow } from './count-window.js';
import { TimeWindow } from './time-window.js';
import { FAILURE, SLOW } from './window.js';

interface Event {
  dt: number;
  flags: number;
}

const events = fc.array(
  fc.record({ dt: fc.integer({ min: 0, max: 300 }), flags: fc.integer({ min: 0, max: 3 }) }),
  { maxLength: 300 },
);

function totals(list: { flags: number }[]): [number, number, number] {
  return [
    list.length,
    list.filter((e) => e.flags & FAILURE).length,
    list.filter((e) => e.flags & SLOW).length,
  ];
}

test('a count window holds exactly the last `size` outcomes (naive model)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 50 }), events, (size, evs: Event[]) => {
      const w = new CountWindow(size);
      const seen: Event[] = [];
      for (const e of evs) {
        w.record(0, e.flags);
        seen.push(e);
        assert.deepEqual([w.calls, w.failures, w.slowCalls], totals(seen.slice(-size)));
      }
      // Round trip through JSON keeps the same totals.
      const copy = new CountWindow(size);
      copy.load(w.toJSON(), 0);
      assert.deepEqual([copy.calls, copy.failures, copy.slowCalls], [w.calls, w.failures, w.slowCalls]);
    }),
  );
});

test('a time window counts the calls in the buckets of the last ms (naive model)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 20 }),
      fc.integer({ min: 1, max: 10 }),
      events,
      fc.integer({ min: 0, max: 5_000 }),
      (buckets, width, evs: Event[], start) => {
        const ms = buckets * width;
        const w = new TimeWindow(ms, buckets);
        const seen: { t: number; flags: number }[] = [];
        let t = start;
        for (const e of evs) {
          t += e.dt;
          w.record(t, e.flags);
          seen.push({ t, flags: e.flags });
          const current = Math.floor(t / width);
          const live = seen.filter((s) => Math.floor(s.t / width) > current - buckets);
          assert.deepEqual([w.calls, w.failures, w.slowCalls], totals(live));
        }
        // Time passing without calls empties it.
        w.advance(t + ms + width);
        assert.deepEqual([w.calls, w.failures, w.slowCalls], [0, 0, 0]);
      },
    ),
  );
});

test('a time window survives toJSON and load', () => {
  const w = new TimeWindow(1_000, 10);
  w.record(0, FAILURE);
  w.record(150, SLOW);
  w.record(420, 0);
  const copy = new TimeWindow(1_000, 10);
  copy.load(w.toJSON(450), 10_450);
  assert.deepEqual([copy.calls, copy.failures, copy.slowCalls], [3, 1, 1]);
  copy.advance(10_450 + 700);
  assert.deepEqual([copy.calls, copy.failures, copy.slowCalls], [1, 0, 0], 'the oldest buckets aged out');
});
