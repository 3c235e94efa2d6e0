import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { groupLeaks, type Leak } from './leak.js';

const leakArb = fc.record({
  id: fc.nat(),
  kind: fc.constantFrom('task', 'resource', 'promise', 'listener') as fc.Arbitrary<Leak['kind']>,
  type: fc.constantFrom('Timeout', 'Interval', 'Promise', 'EventEmitter'),
  state: fc.constantFrom('active', 'pending', 'abandoned'),
  ageMs: fc.nat({ max: 100_000 }),
  site: fc.constantFrom('a.js:1:1', 'a.js:2:5', 'b.js:9:9'),
  stack: fc.array(fc.constantFrom('f (a.js:1:1)', 'g (a.js:2:5)', 'h (b.js:3:1)', 'h (b.js:3:7)'), {
    maxLength: 3,
  }),
  creatorId: fc.constant(undefined),
  label: fc.constant(undefined),
  keepsAlive: fc.boolean(),
});

test('groupLeaks: counts add up, tasks first then sorted by count, each group is homogeneous', () => {
  fc.assert(
    fc.property(fc.array(leakArb, { maxLength: 60 }), (leaks) => {
      const groups = groupLeaks(leaks);
      assert.equal(
        groups.reduce((n, g) => n + g.count, 0),
        leaks.length,
      );
      for (let i = 1; i < groups.length; i++) {
        const [a, b] = [groups[i - 1]!, groups[i]!];
        // A task group never follows another kind's; within the same rank, larger first.
        assert.ok(!(a.kind !== 'task' && b.kind === 'task'));
        if ((a.kind === 'task') === (b.kind === 'task')) assert.ok(a.count >= b.count);
      }
      for (const g of groups) {
        const members = leaks.filter(
          (l) => l.site === g.site && l.kind === g.kind && l.state === g.state && l.type === g.type,
        );
        assert.ok(members.length >= g.count);
        assert.ok(members.some((m) => m.ageMs === g.oldestMs));
      }
    }),
  );
});

test('groupLeaks: frames that differ only in column (an async caller resumed) share a group', () => {
  const base = {
    kind: 'promise',
    type: 'Promise',
    state: 'pending',
    site: 'a.js:1:1',
    creatorId: undefined,
    label: undefined,
    keepsAlive: false,
  } as const;
  const groups = groupLeaks([
    { ...base, id: 1, ageMs: 1, stack: ['f (a.js:1:1)', 'main (run.mjs:5:76)'] },
    { ...base, id: 2, ageMs: 2, stack: ['f (a.js:1:1)', 'main (run.mjs:5:82)'] },
    { ...base, id: 3, ageMs: 3, stack: ['f (a.js:1:1)', 'other (run.mjs:6:1)'] },
  ]);
  assert.deepEqual(
    groups.map((g) => g.count),
    [2, 1],
  );
});
