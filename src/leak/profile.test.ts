import assert from 'node:assert/strict';
import { test } from 'node:test';
import { background, withCancel } from '../context/index.js';
import { Channel, go } from '../task/index.js';
import { profile } from './profile.js';
import { startTracking } from './tracker.js';

startTracking({ mode: 'full' });

test('debug=1 groups identical stacks, counts first, largest group first', () => {
  const timers: NodeJS.Timeout[] = [];
  const poll = () => timers.push(setInterval(() => {}, 1000));
  for (let i = 0; i < 3; i++) poll();
  timers.push(setInterval(() => {}, 1000));
  try {
    const text = profile({ debug: 1 });
    assert.match(text, /^leash profile: total \d+ /);
    const blocks = text.split('\n\n').filter((b) => b.includes('Interval'));
    const counts = blocks.map((b) => Number(/^(\d+) @ resource Interval/m.exec(b)?.[1]));
    assert.deepEqual(counts.slice(0, 2), [3, 1]);
    assert.match(blocks[0]!, /#\tpoll \(src\/leak\/profile\.test\.ts:\d+:\d+\)/);
  } finally {
    for (const t of timers) clearInterval(t);
  }
});

test('debug=2 lists each task with state and age, Go style', async () => {
  const [ctx, cancel] = withCancel(background());
  const ch = new Channel<number>();
  const task = go(ctx, async (c) => ch.recv(c), { name: 'waiter' });
  await new Promise((r) => setTimeout(r, 5));
  try {
    const text = profile({ debug: 2 });
    assert.match(text, new RegExp(`task ${task.id} "waiter" \\[chan receive, \\d+ ms\\]:`));
    assert.match(text, /\tprofile\.test\.ts|src\/leak\/profile\.test\.ts/);
  } finally {
    cancel();
    await task.done.catch(() => {});
  }
});

test('json format carries the same data', () => {
  const t = setInterval(() => {}, 1000);
  try {
    const one = JSON.parse(profile({ debug: 1, format: 'json' })) as {
      total: number;
      groups: { count: number }[];
    };
    assert.equal(
      one.groups.reduce((n, g) => n + g.count, 0),
      one.total,
    );
    const two = JSON.parse(profile({ debug: 2, format: 'json' })) as {
      entries: { kind: string; type: string }[];
    };
    assert.ok(two.entries.some((e) => e.kind === 'resource' && e.type === 'Interval'));
  } finally {
    clearInterval(t);
  }
});

test('bad options throw LEASH_ERR_INVALID_ARG', () => {
  assert.throws(() => profile({ debug: 3 as 1 }), { code: 'LEASH_ERR_INVALID_ARG' });
  assert.throws(() => profile({ format: 'xml' as 'text' }), { code: 'LEASH_ERR_INVALID_ARG' });
});
