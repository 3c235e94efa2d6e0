// npm start: the article's incident, in one Node process, without and with leash; then the leash
// orders service with every defence, under chaos.
//
// Part 1. An "orders" service calls a slow, flaky dependency (an HTTP inventory service on loopback,
// or a real PostgreSQL pg_sleep query when DATABASE_URL is set). Clients give up after 300 ms and
// disconnect. The leaky handler keeps every dependency call running after its client left; the leash
// handler's calls end with the request. The table shows what each one leaves behind.
//
// Part 2 (demo/defences.ts). The orders service with its defences (timeout, retry budget, breaker,
// bulkhead, adaptive limit, cache, a queue for the slow path) under an open-model load, with chaos
// on its stock calls switched on mid-run; a table per phase, and what is left once it shut down.
//
// `npm start -- --dashboard` keeps part 2's service up under a light load, with its dashboard URL,
// until SIGINT or SIGTERM; without it the demo exits by itself.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { background, withCancel } from '../src/context/index.js';
import { runLoad } from '../src/load/index.js';
import type { PhaseResult } from './defences.js';
import { CHAOS_FAULTS, runDefences } from './defences.js';
import { percentile } from './load-generator.js';
import type { SideResult } from './run-demo.js';
import { runDemo } from './run-demo.js';

const databaseUrl = process.env.DATABASE_URL || undefined;
const dashboard = process.argv.includes('--dashboard');
console.log('leash demo: the same load against a leaky handler and a leash handler\n');
const started = performance.now();
const result = await runDemo({
  requests: 400,
  concurrency: 40,
  clientTimeoutMs: 300,
  databaseUrl,
  log: (line) => console.log(line),
});

const rows: [string, (s: SideResult) => string][] = [
  ['requests', (s) => String(s.load.requests)],
  ['answered 200', (s) => String(s.load.ok)],
  ['errors (5xx answers)', (s) => String(s.load.failed)],
  ['clients that gave up', (s) => String(s.load.timedOut)],
  ['p50 latency', (s) => `${percentile(s.load.latencies, 50).toFixed(0)} ms`],
  ['p99 latency', (s) => `${percentile(s.load.latencies, 99).toFixed(0)} ms`],
  ['dependency calls made', (s) => String(s.upstreamStarted)],
  ['dependency calls still open after the clients left', (s) => String(s.upstreamOpen)],
  ['handlers still running (live tasks)', (s) => String(s.handlersRunning)],
  [
    'async resources alive vs before the load',
    (s) => `${s.resourcesAlive >= 0 ? '+' : ''}${s.resourcesAlive}`,
  ],
  ['heap growth after GC', (s) => `${(s.heapGrowth / 1024 / 1024).toFixed(2)} MB`],
];
const [leaky, leash] = result.sides as [SideResult, SideResult];
const w0 = Math.max(...rows.map(([name]) => name.length));
const w1 = 26;
console.log(`\ndependency: ${result.dependency}\n`);
console.log(`${''.padEnd(w0)}  ${'leaky handler'.padEnd(w1)}leash handler`);
console.log(`${''.padEnd(w0)}  ${'(no context, no timeout)'.padEnd(w1)}(req.ctx, fetch(ctx), query(ctx))`);
for (const [name, get] of rows) console.log(`${name.padEnd(w0)}  ${get(leaky).padEnd(w1)}${get(leash)}`);

console.log(
  '\nasync resources: sockets and timers. The leash side keeps only idle pooled connections (fetch keep-alive\n' +
    "or the pg pool) held for reuse; the leaky side's are calls nobody is waiting for any more.",
);
// The trace: every request span of the run above, plus, when leashjs/leak's recorder is there, a short
// replay recorded with it (every async resource and promise of both handlers). The replay is separate
// so that the recorder's own cost and memory stay out of the measured table.
let traced = 'request spans';
try {
  const leak = await import('../src/leak/index.js');
  const recorder = leak.startTrace({ maxEvents: 200_000 });
  try {
    await runDemo({
      requests: 60,
      concurrency: 20,
      clientTimeoutMs: 300,
      databaseUrl,
      trace: result.trace,
      pidBase: 2,
    });
  } finally {
    recorder.stop();
  }
  result.trace.merge(recorder.toJSON().traceEvents);
  traced = 'request spans, and a 60-request replay recorded with leashjs/leak startTrace';
} catch (err) {
  console.log(
    `(leashjs/leak's trace recorder is not usable here: ${String(err)}; writing request spans only)`,
  );
}
const tracePath = join(tmpdir(), `leash-demo-trace-${process.pid}.json`);
result.trace.write(tracePath);
console.log(`\ntrace (${traced}); open it in https://ui.perfetto.dev:\n  ${tracePath}`);

// Part 2: defences under chaos.
console.log(
  '\n\nleash demo, part 2: the orders service with its defences, chaos switched on mid-run\n' +
    '  ingress shedLoad(adaptiveLimit); each request 400 ms (withContext); stock lookups through a cache\n' +
    '  (getOrLoad, stale-while-refresh) over wrap(retry with a retryBudget, circuitBreaker, bulkhead,\n' +
    '  timeout(120), chaos); the confirmation goes to a queue a worker drains. Chaos on the stock calls:\n' +
    `  ${CHAOS_FAULTS.map((f) => `${f.type} ${Math.round(f.probability * 100)}%`).join(', ')}.\n`,
);
const phaseRows: [string, (p: PhaseResult) => string][] = [
  ['requests', (p) => String(p.requests)],
  ['answered 200', (p) => String(p.ok)],
  ['errors (5xx but 503, timeouts)', (p) => `${p.errors} (${((100 * p.errors) / p.requests).toFixed(1)}%)`],
  ['shed (503 at once)', (p) => String(p.shed)],
  ['p50 latency', (p) => `${p.p50.toFixed(1)} ms`],
  ['p99 latency', (p) => `${p.p99.toFixed(1)} ms`],
  ['faults injected', (p) => String(p.injected)],
  ['breaker opened', (p) => (p.defences ? String(p.breakerOpens) : '-')],
  ['retries (within the budget)', (p) => (p.defences ? String(p.retries) : '-')],
  ['cache hit rate (fresh or stale)', (p) => (p.defences ? `${(100 * p.cacheHitRate).toFixed(0)}%` : '-')],
  ['live tasks after the phase', (p) => String(p.tasksAfter)],
  ['stock calls still open after it', (p) => String(p.upstreamOpenAfter)],
];
const printPhases = (phases: readonly PhaseResult[]) => {
  const n0 = Math.max(...phaseRows.map(([name]) => name.length));
  const w = 24;
  const line = (name: string, cells: string[]) =>
    console.log(`${name.padEnd(n0)}  ${cells.map((c) => c.padEnd(w)).join('')}`.trimEnd());
  console.log();
  line(
    '',
    phases.map((p) => p.name),
  );
  for (const [name, get] of phaseRows) line(name, phases.map(get));
};
const part2 = await runDefences({
  rate: 100,
  phaseMs: 3_000,
  log: (line) => console.log(line),
  hold: dashboard
    ? async (running, phases) => {
        printPhases(phases);
        console.log(
          `\n--dashboard: the service stays up under a light load (20 req/s, chaos on) until Ctrl-C or SIGTERM.\n` +
            `  dashboard     ${running.dashboardUrl}\n` +
            `  chaos switch  curl -X POST -d '{"enabled":false}' ${running.chaosUrl}`,
        );
        const [ctx, cancel] = withCancel(background());
        const stop = () => cancel();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        running.controller.enable();
        try {
          await runLoad(ctx, {
            url: `${running.ordersUrl}/orders`,
            rate: 20,
            durationMs: 24 * 3_600_000,
            timeoutMs: 1_000,
          });
        } catch (err) {
          if (ctx.err === undefined) throw err;
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          cancel();
        }
        console.log('\nstopping: draining the queue, closing the servers');
      }
    : undefined,
});
if (!dashboard) printPhases(part2.phases);
const q = part2.queue;
console.log(
  `\nslow path (queue): ${q.enqueued} confirmations enqueued, ${q.completed} completed, ` +
    `${q.drain.handedBack.length} handed back at the drain, ${q.deadLettered} dead-lettered, ${q.leftInQueue} left in the queue` +
    `\nafter shutdown: leaked tasks ${part2.leaked.tasks}, leaked active handles ${part2.leaked.handles}` +
    ` (chaos seed ${part2.seed}: the same seed, the same decisions)`,
);

console.log(`finished in ${((performance.now() - started) / 1000).toFixed(1)} s`);

// Nothing should be left: the process exits by itself. If it does not within 5 s, say what holds it.
const watchdog = setTimeout(() => {
  console.error('demo: something is still alive:', process.getActiveResourcesInfo());
  process.exit(1);
}, 5_000);
watchdog.unref();
