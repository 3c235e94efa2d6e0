// The goroutine-leak patterns of the background article, written with leash as documented, leak
// nothing: afterwards no task is registered, no timer or listener is left
// (process.getActiveResourcesInfo()), and repeating the pattern does not grow the heap.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { background, type Context, isDeadlineExceeded, withCancel, withTimeout } from '../context/index.js';
import { Channel, queueSizes } from './channel.js';
import { Group } from './group.js';
import { heldCount } from './keep-alive.js';
import { go, taskCount } from './registry.js';
import { ticker } from './ticker.js';

const bg = background();
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

// Timers and immediates are what a leaked ticker, sleep or deadline would leave; other resources
// (the test reporter's own writes) come and go on their own.
function resources(): string {
  return process
    .getActiveResourcesInfo()
    .filter((r) => r === 'Timeout' || r === 'Immediate')
    .sort()
    .join(',');
}

// Runs `pattern` once to check its outcome, then in batches of `n`, and asserts that the registry
// is empty, the process's active resources are what they were, and the heap did not grow.
async function leaksNothing(pattern: () => Promise<void>, n = 2000): Promise<void> {
  const gc = globalThis.gc;
  assert.ok(gc, 'run with --expose-gc');
  const baseResources = resources();
  await pattern();
  await flush();
  assert.equal(taskCount(), 0, 'no task left');
  assert.equal(heldCount(), 0, 'no keep-alive hold left');
  assert.equal(resources(), baseResources, 'no timer, handle or listener left');
  for (let i = 0; i < 200; i++) await pattern(); // warm up
  const batch = async (): Promise<number> => {
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < n; i++) await pattern();
    await flush();
    gc();
    return process.memoryUsage().heapUsed - before;
  };
  // A leak of even 500 bytes per run passes 1 MB in every batch. What V8 allocates once (code it
  // compiles late, on Node 24 more than 1 MB in one CI batch after the warm-up) shows in one batch
  // only, so a second batch decides whenever the first is over.
  const LIMIT = 1024 * 1024;
  const first = await batch();
  const second = first < LIMIT ? first : await batch();
  assert.ok(
    Math.min(first, second) < LIMIT,
    `heap grew ${first} and then ${second} bytes over two batches of ${n} runs`,
  );
  assert.equal(taskCount(), 0);
  assert.equal(resources(), baseResources);
}

describe('the article leak patterns leak nothing', () => {
  test('a receive nobody sends to, inside a context that ends', async () => {
    // Go: go func() { val := <-ch }() with nobody sending: blocked forever.
    const [ctx, cancel] = withTimeout(bg, 20);
    const ch = new Channel<number>();
    const h = go(ctx, async (ctx) => (await ch.recv(ctx)).value);
    await assert.rejects(h.done, isDeadlineExceeded);
    assert.deepEqual(queueSizes(ch), [0, 0]);
    cancel();

    await leaksNothing(async () => {
      const [ctx, cancel] = withCancel(bg);
      const ch = new Channel<number>();
      const h = go(ctx, async (ctx) => (await ch.recv(ctx)).value);
      await flush();
      cancel();
      await h.done.catch(() => {});
    });
  });

  test('a range over a channel nobody closes, with a context', async () => {
    // Go: for v := range ch { ... } where the producer forgot close(ch).
    const pattern = async () => {
      const [ctx, cancel] = withCancel(bg);
      const ch = new Channel<number>();
      let seen = 0;
      const consumer = go(ctx, async (ctx) => {
        for await (const _ of ch.range(ctx)) seen++;
      });
      const producer = go(ctx, async (ctx) => {
        for (let i = 0; i < 3; i++) await ch.send(ctx, i);
        // forgets ch.close()
      });
      await producer.done;
      cancel();
      await consumer.done; // the range ends quietly with the context
      assert.equal(seen, 3);
    };
    await leaksNothing(pattern);
  });

  test('a ticker loop', async () => {
    // Go: ticker := time.NewTicker(d) without defer ticker.Stop(), in a loop.
    const pattern = async () => {
      const [ctx, cancel] = withCancel(bg);
      const h = go(ctx, async (ctx) => {
        let n = 0;
        for await (const _ of ticker(ctx, 1)) if (++n === 2) break;
        for await (const _ of ticker(ctx, 1)); // runs until ctx ends
      });
      setTimeout(cancel, 5);
      await h.done;
    };
    await leaksNothing(pattern, 200);
  });

  test('fan-out with a Group where one task fails', async () => {
    // Go: workers blocked sending results nobody reads after the collector returned early.
    const pattern = async () => {
      const g = new Group(bg);
      const jobs = new Channel<number>();
      const results = new Channel<number>();
      for (let w = 0; w < 8; w++) {
        g.go(async (ctx: Context) => {
          for await (const j of jobs.range(ctx)) {
            if (j === 5) throw new Error('job 5 failed');
            await results.send(ctx, j * 2);
          }
        });
      }
      g.go(async (ctx) => {
        for (let j = 0; j < 100; j++) await jobs.send(ctx, j);
        jobs.close();
      });
      g.go(async (ctx) => {
        for (let i = 0; i < 100; i++) await results.recv(ctx); // stops with ctx
      });
      await assert.rejects(g.wait(), /job 5 failed/);
      assert.deepEqual(queueSizes(jobs), [0, 0]);
      assert.deepEqual(queueSizes(results), [0, 0]);
    };
    await leaksNothing(pattern, 500);
  });
});
