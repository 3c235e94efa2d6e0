// JobIndex against a plain Map: every id finds the job stored under it and nothing else, whether
// the index issued it (window) or the user chose it (Map), including user ids spelled like issued
// ones, and the window stays a few slots per live job however long a straggler stays.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type Indexed, JobIndex } from './job-index.js';

class Job implements Indexed {
  seq = 0;
  constructor(readonly id: string) {}
}

const PREFIX = 'p-';

type Op =
  | { kind: 'issue' }
  | { kind: 'issue-later' }
  | { kind: 'user'; id: string }
  | { kind: 'delete'; pick: number }
  | { kind: 'get'; id: string };

// User ids drawn to collide with issued ones: canonical and non-canonical spellings, other prefixes.
const userId = fc.oneof(
  fc.integer({ min: 1, max: 40 }).map((n) => `${PREFIX}${n.toString(36)}`),
  fc.integer({ min: 1, max: 40 }).map((n) => `${PREFIX}0${n.toString(36)}`),
  fc.integer({ min: 1, max: 40 }).map((n) => `q-${n.toString(36)}`),
  fc.string({ minLength: 1, maxLength: 6 }),
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'issue' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'issue-later' as const }) },
  { weight: 2, arbitrary: userId.map((id) => ({ kind: 'user' as const, id })) },
  { weight: 4, arbitrary: fc.nat().map((pick) => ({ kind: 'delete' as const, pick })) },
  { weight: 2, arbitrary: userId.map((id) => ({ kind: 'get' as const, id })) },
);

test('JobIndex finds exactly what a Map would, for issued and user ids alike', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const index = new JobIndex<Job>(PREFIX);
      const model = new Map<string, Job>();
      const issuedNotStored: string[] = [];
      const add = (id: string) => {
        if (model.has(id)) {
          // Known: the queue adds nothing (dedup by id); the index must agree.
          assert.equal(index.get(id), model.get(id));
          return;
        }
        const j = new Job(id);
        index.set(j);
        model.set(id, j);
      };
      for (const o of ops) {
        if (o.kind === 'issue') {
          const id = index.newId();
          assert.equal(model.has(id), false, `issued ${id} collides with a stored id`);
          add(id);
        } else if (o.kind === 'issue-later') {
          // Issued now, stored after later ids (an enqueue that waited for room).
          issuedNotStored.push(index.newId());
          if (issuedNotStored.length > 2) add(issuedNotStored.shift() as string);
        } else if (o.kind === 'user') add(o.id);
        else if (o.kind === 'delete') {
          const live = [...model.values()];
          if (live.length === 0) continue;
          const j = live[o.pick % live.length] as Job;
          index.delete(j);
          model.delete(j.id);
        } else assert.equal(index.get(o.id), model.get(o.id));
        assert.equal(index.size, model.size);
      }
      for (const [id, j] of model) assert.equal(index.get(id), j);
      for (const id of issuedNotStored) assert.equal(index.get(id), model.get(id));
    }),
    { numRuns: 300 },
  );
});

test('JobIndex: a straggler does not keep the window growing behind it', () => {
  const index = new JobIndex<Job>(PREFIX);
  const straggler = new Job(index.newId());
  index.set(straggler);
  const live: Job[] = [];
  for (let i = 0; i < 200_000; i++) {
    const j = new Job(index.newId());
    index.set(j);
    live.push(j);
    if (live.length > 10) index.delete(live.shift() as Job);
  }
  assert.ok(index.windowSlots <= 4096 + 64, `window holds ${index.windowSlots} slots for 11 live jobs`);
  // Moved to the Map, the straggler is still found, and removable.
  assert.equal(index.get(straggler.id), straggler);
  assert.equal(index.size, 11);
  index.delete(straggler);
  assert.equal(index.get(straggler.id), undefined);
  for (const j of live) index.delete(j);
  assert.equal(index.size, 0);
  assert.equal(index.windowSlots, 0);
});

test('JobIndex: ids are unique even when a user took an id of the issued form first', () => {
  const index = new JobIndex<Job>(PREFIX);
  for (const n of [1, 2, 3]) index.set(new Job(`${PREFIX}${n.toString(36)}`));
  const issued = new Set<string>();
  for (let i = 0; i < 10; i++) {
    const id = index.newId();
    assert.equal(index.get(id), undefined);
    index.set(new Job(id));
    issued.add(id);
  }
  assert.equal(issued.size, 10);
  for (const n of [1, 2, 3]) assert.equal(issued.has(`${PREFIX}${n.toString(36)}`), false);
});
