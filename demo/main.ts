// npm start: the article's incident, in one Node process, without and with leash.
//
// An "orders" service calls a slow, flaky dependency (an HTTP inventory service on loopback, or a
// real PostgreSQL pg_sleep query when DATABASE_URL is set). Clients give up after 300 ms and
// disconnect. The leaky handler keeps every dependency call running after its client left; the leash
// handler's calls end with the request. The table shows what each one leaves behind.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentile } from './load-generator.js';
import type { SideResult } from './run-demo.js';
import { runDemo } from './run-demo.js';

const databaseUrl = process.env.DATABASE_URL || undefined;
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
console.log(`finished in ${((performance.now() - started) / 1000).toFixed(1)} s`);

// Nothing should be left: the process exits by itself. If it does not within 5 s, say what holds it.
const watchdog = setTimeout(() => {
  console.error('demo: something is still alive:', process.getActiveResourcesInfo());
  process.exit(1);
}, 5_000);
watchdog.unref();
