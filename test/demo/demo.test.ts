// The demo's claims, as tests. Part 1: with the same load, the leaky handler leaves dependency calls
// and handlers running after every client left, and the leash handler leaves none. Part 2: the
// defended orders service contains the chaos switched on mid-run (few errors, the breaker opens, the
// cache answers, retries stay within their budget), the queue's slow path loses nothing, and nothing
// is left once it shut down.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runDefences } from '../../demo/defences.js';
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

test('demo part 2: the defences contain chaos switched on mid-run, the queue loses nothing, nothing leaks', async () => {
  const baseline = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap').length;
  let served: { page: number; html: string; chaos: { enabled: boolean; seed: number } } | undefined;
  const result = await runDefences({
    rate: 100,
    phaseMs: 2_000,
    warmupMs: 500,
    // While it runs (what --dashboard holds open): the dashboard page and the chaos switch answer.
    hold: async (running) => {
      const page = await fetch(running.dashboardUrl);
      const html = await page.text();
      const chaos = (await (await fetch(running.chaosUrl)).json()) as { enabled: boolean; seed: number };
      served = { page: page.status, html, chaos };
    },
  });
  const [off, on, bare] = result.phases;
  assert.ok(off && on && bare);
  assert.ok(served);
  assert.equal(served.page, 200);
  assert.match(served.html, /<html/i);
  assert.equal(served.chaos.seed, result.seed);
  assert.equal(served.chaos.enabled, false, 'chaos is off once the phases are over');

  // Chaos off: the service answers.
  assert.equal(off.injected, 0);
  assert.equal(off.errors, 0, `chaos off: ${off.errors} errors`);
  assert.ok(off.ok >= 0.9 * off.requests, `chaos off: only ${off.ok} of ${off.requests} answered 200`);

  // Chaos on: faults were injected, and the defences kept them from the clients.
  assert.ok(on.injected >= 10, `chaos on injected only ${on.injected} faults`);
  assert.ok(on.breakerOpens >= 1, 'the breaker opened under chaos');
  assert.ok(on.retries >= 1, 'failed calls were retried');
  assert.ok(on.cacheHitRate >= 0.5, `cache hit rate ${on.cacheHitRate}`);
  assert.ok(on.errors / on.requests < 0.05, `chaos on: ${on.errors} errors of ${on.requests}`);
  assert.ok(on.ok >= 0.75 * on.requests, `chaos on: only ${on.ok} of ${on.requests} answered 200`);
  // Without the defences the same chaos reaches the clients: errors, and hangs up to their timeout.
  assert.ok(bare.injected >= 10);
  assert.ok(bare.errors / bare.requests > 0.1, `no defences: ${bare.errors} errors of ${bare.requests}`);
  assert.ok(on.errors < bare.errors);
  assert.ok(on.p99 < bare.p99, `p99 ${on.p99} ms with the defences, ${bare.p99} ms without`);
  assert.ok(bare.p99 >= 900, 'the hangs held clients until they gave up');

  for (const p of result.phases) {
    assert.equal(p.tasksAfter, 0, `${p.name}: live tasks after the phase`);
    assert.equal(p.upstreamOpenAfter, 0, `${p.name}: stock calls still open after the phase`);
  }
  // The slow path: every confirmation accepted was processed, none lost or dead-lettered.
  const q = result.queue;
  assert.ok(q.enqueued >= off.ok + on.ok, `enqueued ${q.enqueued}, answered ${off.ok + on.ok}`);
  assert.equal(q.completed, q.enqueued);
  assert.equal(q.deadLettered, 0);
  assert.equal(q.leftInQueue, 0);
  assert.deepEqual(q.drain.handedBack, []);
  // Nothing left once it shut down.
  assert.equal(result.leaked.tasks, 0);
  assert.ok(result.leaked.handles <= 0, `${result.leaked.handles} active handles more than before`);
  assert.ok((await settled(baseline)) <= baseline, 'the demo leaves nothing running');
});
