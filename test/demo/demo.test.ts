// The demo's claim, as a test: with the same load, the leaky handler leaves dependency calls and
// handlers running after every client left, and the leash handler leaves none.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runDemo } from '../../demo/run-demo.js';
import { postgresUp, skipReason } from '../pg/postgres.js';

const load = { requests: 60, concurrency: 20, clientTimeoutMs: 300 };

async function settled(baseline: number): Promise<number> {
  let now = 0;
  for (let i = 0; i < 200; i++) {
    now = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap').length;
    if (now <= baseline) return now;
    await new Promise((r) => setTimeout(r, 10));
  }
  return now;
}

test('demo over HTTP: the leaky handler leaves upstream work open, the leash handler leaves none', async () => {
  const baseline = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap').length;
  const { sides, trace } = await runDemo(load);
  const [leaky, leash] = sides;
  assert.ok(leaky && leash);
  assert.equal(leaky.load.requests, 60);
  assert.ok(leaky.upstreamOpen >= 3, `leaky left ${leaky.upstreamOpen} upstream calls open`);
  assert.ok(leaky.handlersRunning >= 3, `leaky left ${leaky.handlersRunning} handlers running`);
  assert.equal(leash.upstreamOpen, 0, 'leash leaves no upstream call open');
  assert.equal(leash.handlersRunning, 0, 'leash leaves no handler running');
  assert.ok(leash.load.timedOut + leash.load.failed > 0, 'the load did hit the slow calls');
  assert.ok(trace.length > 60);
  assert.ok((await settled(baseline)) <= baseline, 'the demo leaves nothing running');
});

test('demo over PostgreSQL: the leaky handler leaves queries running, the leash handler cancels them', async (t) => {
  if (!(await postgresUp())) return t.skip(skipReason);
  const { sides } = await runDemo({ ...load, databaseUrl: 'postgres://postgres@127.0.0.1:5432/test' });
  const [leaky, leash] = sides;
  assert.ok(leaky && leash);
  assert.ok(leaky.upstreamOpen >= 1, `leaky left ${leaky.upstreamOpen} queries running`);
  assert.ok(leaky.handlersRunning >= 3);
  assert.equal(leash.upstreamOpen, 0);
  assert.equal(leash.handlersRunning, 0);
});
