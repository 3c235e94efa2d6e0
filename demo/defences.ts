// The demo's second part, "defences under chaos": the orders service with every defence leash has,
// composed from the real layers, against a stock service whose calls go through a seeded chaos
// controller that is switched on mid-run. An open-model load (leashjs/load's runLoad) drives it one
// phase after the other; each phase is measured on its own. demo/main.ts prints the table;
// test/demo runs it with a short load.
//
//   ingress   shedLoad(adaptiveLimit)             a 503 at once when the service is over its limit
//   request   withContext(timeoutMs: 400)         every request has a deadline, carried everywhere
//   stock     cache.getOrLoad                     one load per key, shared; hits never leave the process
//   upstream  wrap(retry(budget), circuitBreaker, bulkhead, timeout(120), chaos)
//   slow path queue (memoryBackend) + worker      the confirmation runs after the answer, drained at the end
import diagnostics_channel from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCache } from '../src/cache/index.js';
import type { ChaosController, FaultSpec } from '../src/chaos/index.js';
import { chaos, chaosController, chaosHandler } from '../src/chaos/index.js';
import type { Context } from '../src/context/index.js';
import { background, sleep, withCancel } from '../src/context/index.js';
import { fetch, withContext } from '../src/http/index.js';
import { debugHandler } from '../src/leak/index.js';
import { runLoad } from '../src/load/index.js';
import type { DrainReport } from '../src/queue/index.js';
import { createQueue, memoryBackend } from '../src/queue/index.js';
import type { Policy } from '../src/resilience/index.js';
import {
  adaptiveLimit,
  bulkhead,
  circuitBreaker,
  exponentialBackoff,
  retry,
  retryBudget,
  shedLoad,
  timeout,
  wrap,
} from '../src/resilience/index.js';
import { taskCount } from '../src/task/index.js';
import { type StockUpstream, startStockUpstream } from './stock-upstream.js';

/** The faults switched on mid-run: a third of the calls to the stock service go wrong. */
export const CHAOS_FAULTS: readonly FaultSpec[] = [
  { type: 'latency', probability: 0.15, minMs: 50, maxMs: 300 },
  { type: 'error', probability: 0.15, status: 503, message: 'stock service unavailable' },
  { type: 'hang', probability: 0.05 },
];

export interface DefencesOptions {
  /** rate is the load's arrival rate, requests per second. */
  rate: number;
  /** phaseMs is how long each phase is measured. */
  phaseMs: number;
  /** warmupMs is the load before the first phase's measured window (and the contrast's), not counted. Default: 1000. */
  warmupMs?: number;
  /** seed makes the chaos decisions reproducible. Default: 15. */
  seed?: number;
  /** contrast adds a third phase: the same calls without the defences, chaos on. Default: true. */
  contrast?: boolean;
  log?: (line: string) => void;
  /**
   * hold runs after the phases are measured and before anything is shut down, with the running
   * service (`npm start -- --dashboard` keeps it up under a light load until SIGINT/SIGTERM).
   */
  hold?: (running: RunningDemo, phases: readonly PhaseResult[]) => Promise<void>;
}

export interface PhaseResult {
  name: string;
  chaos: boolean;
  defences: boolean;
  requests: number;
  /** ok counts 200 answers. */
  ok: number;
  /** errors counts failures other than load shedding: 5xx but 503, timeouts, resets. */
  errors: number;
  /** shed counts 503 answers: the ingress limit, a full bulkhead or an open breaker, all at once. */
  shed: number;
  p50: number;
  p99: number;
  breakerOpens: number;
  retries: number;
  /** cacheHitRate is the share of stock lookups answered from the cache (fresh or stale) over the phase; NaN without a cache. */
  cacheHitRate: number;
  /** injected counts the faults chaos injected during the phase. */
  injected: number;
  /** tasksAfter is live tasks once the phase settled, minus the idle service's. */
  tasksAfter: number;
  /** upstreamOpenAfter is how many calls the stock service was still working on then. */
  upstreamOpenAfter: number;
}

export interface QueueSummary {
  enqueued: number;
  completed: number;
  handedBack: number;
  deadLettered: number;
  /** leftInQueue is the depth once the worker drained: jobs that would wait for the next worker. */
  leftInQueue: number;
  drain: DrainReport;
}

export interface DefencesResult {
  phases: PhaseResult[];
  queue: QueueSummary;
  /** leaked is what is still alive once everything is shut down, against before it started: must be 0. */
  leaked: { tasks: number; handles: number };
  dashboardUrl: string;
  chaosUrl: string;
  seed: number;
}

/** RunningDemo is what `hold` gets: the live service and its controls. */
export interface RunningDemo {
  ordersUrl: string;
  dashboardUrl: string;
  chaosUrl: string;
  controller: ChaosController;
}

interface Stock {
  sku: string;
  inStock: number;
}

interface Confirmation {
  order: number;
  sku: string;
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

function handleCount(): number {
  return process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap').length;
}

/** waitFor polls `ok` every 10 ms for at most `ms`. */
async function waitFor(ok: () => boolean, ms: number): Promise<void> {
  for (let waited = 0; waited < ms && !ok(); waited += 10) await tick(10);
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

const SHED_CODES = new Set([
  'LEASH_ERR_BULKHEAD_FULL',
  'LEASH_ERR_CONCURRENCY_LIMIT',
  'LEASH_ERR_CIRCUIT_OPEN',
]);
const isShed = (err: unknown) => SHED_CODES.has((err as { code?: string } | null)?.code ?? '');

async function getStock(ctx: Context, url: string): Promise<Stock> {
  const r = await fetch(ctx, url);
  if (!r.ok) throw new Error(`stock answered ${r.status}`);
  return (await r.json()) as Stock;
}

// The same walk over SKUs for both services: four orders in five are for 50 popular SKUs, the
// fifth for one of 2,000 others (mostly a cache miss: a real call to the stock service).
const skuFor = (n: number) => (n % 5 === 4 ? `sku-c${(n * 7919) % 2_000}` : `sku-${(n * 7919) % 50}`);

/** The orders service with every defence. */
async function startDefended(upstream: StockUpstream, controller: ChaosController) {
  const upstreamPolicy: Policy = wrap(
    retry({
      maxAttempts: 3,
      backoff: exponentialBackoff({ initialMs: 10, maxMs: 50 }),
      retryOn: (err) => !isShed(err), // an open breaker or a full bulkhead is not worth a retry
      budget: retryBudget({ ratio: 0.2, minPerSecond: 5, windowMs: 5_000 }),
      name: 'stock',
    }),
    circuitBreaker({
      failureRate: 0.5,
      window: { calls: 20 },
      minimumCalls: 10,
      halfOpenCalls: 3,
      openMs: 250,
      isFailure: (err) => !isShed(err), // a full bulkhead is our own limit, not the stock service failing
      name: 'stock',
    }),
    bulkhead({ limit: 16, queue: 16, name: 'stock' }),
    timeout(120, { name: 'stock' }),
    chaos(controller),
  );
  // Fresh for 500 ms; for 5 s more a stale value is served while one refresh runs (and when it fails).
  const cache = createCache<Stock>({
    name: 'stock',
    maximumSize: 1_000,
    ttlMs: 500,
    staleMs: 5_000,
    loadTimeoutMs: 300,
  });
  const confirmations = createQueue<Confirmation>({
    name: 'confirmations',
    backend: memoryBackend({ capacity: 1_000 }),
  });
  const [workerCtx, stopWorker] = withCancel(background());
  // The slow path: a confirmation (an e-mail, a ledger entry) that the answer does not wait for.
  const worker = confirmations.work(workerCtx, (ctx, job) => sleep(ctx, 20 + (job.order % 5) * 10), {
    concurrency: 8,
    timeoutMs: 1_000,
    retries: 2,
    name: 'confirm',
  });
  let enqueued = 0;
  let seq = 0;
  const app = withContext(
    background(),
    async (req, res) => {
      const n = seq++;
      const sku = skuFor(n);
      try {
        const stock = await cache.getOrLoad(req.ctx, sku, (loadCtx) =>
          upstreamPolicy.execute(loadCtx, (ctx) => getStock(ctx, `${upstream.url}/stock/${sku}`)),
        );
        const id = await confirmations.enqueue(req.ctx, { order: n, sku }, { deadlineMs: 10_000 });
        enqueued++;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ order: n, inStock: stock.inStock, confirmation: id }));
      } catch (err) {
        if (req.ctx.err) throw err; // the adapter answers 504 for the deadline, nothing for a gone client
        if (isShed(err)) res.writeHead(503, { 'retry-after': '1' }).end();
        else res.writeHead(502).end();
      }
    },
    { timeoutMs: 400 },
  );
  const ingress = shedLoad(
    adaptiveLimit({ algorithm: 'gradient2', initial: 40, min: 8, max: 200, name: 'orders' }),
  );
  const server = http.createServer((req, res) =>
    ingress(req, res, (err) => {
      if (err) res.writeHead(500).end();
      else app(req, res);
    }),
  );
  const url = await listen(server);
  return {
    url,
    cacheStats: () => cache.stats(),
    get enqueued() {
      return enqueued;
    },
    workerStats: () => worker.stats,
    async close(): Promise<QueueSummary> {
      await closeServer(server);
      const drain = await worker.drain(2_000);
      stopWorker();
      await worker.done;
      const summary: QueueSummary = {
        enqueued,
        completed: worker.stats.completed,
        handedBack: worker.stats.handedBack,
        deadLettered: (await confirmations.deadLetters()).length,
        leftInQueue: await confirmations.depth(),
        drain,
      };
      await confirmations.close();
      return summary;
    },
  };
}

/** The same service without the defences: the request's context only, chaos on the calls. */
async function startUndefended(upstream: StockUpstream, controller: ChaosController) {
  const injected = chaos(controller);
  let seq = 0;
  const app = withContext(background(), async (req, res) => {
    const n = seq++;
    const sku = skuFor(n);
    try {
      const stock = await injected.execute(req.ctx, (ctx) => getStock(ctx, `${upstream.url}/stock/${sku}`));
      await sleep(req.ctx, 20 + (n % 5) * 10); // the confirmation, inline
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ order: n, inStock: stock.inStock }));
    } catch (err) {
      if (req.ctx.err) throw err;
      res.writeHead(502).end();
    }
  });
  const server = http.createServer(app);
  const url = await listen(server);
  return { url, close: () => closeServer(server) };
}

/** Counts breaker openings and retries from their diagnostics channels. */
function countEvents() {
  const counts = { breakerOpens: 0, retries: 0 };
  const onState = (msg: unknown) => {
    if ((msg as { to?: string }).to === 'open') counts.breakerOpens++;
  };
  const onRetry = () => {
    counts.retries++;
  };
  diagnostics_channel.subscribe('leash:resilience:breaker:state-change', onState);
  diagnostics_channel.subscribe('leash:resilience:retry:retry', onRetry);
  return {
    counts,
    stop() {
      diagnostics_channel.unsubscribe('leash:resilience:breaker:state-change', onState);
      diagnostics_channel.unsubscribe('leash:resilience:retry:retry', onRetry);
    },
  };
}

const injectedTotal = (c: ChaosController) => Object.values(c.toJSON().injected).reduce((a, b) => a + b, 0);

/** runDefences runs the phases (chaos off, chaos on, and the contrast) and shuts everything down. */
export async function runDefences(opts: DefencesOptions): Promise<DefencesResult> {
  const seed = opts.seed ?? 15;
  // The baseline: let sockets closed just before (part 1 of the demo) be released first.
  for (let last = -1, i = 0; i < 100 && handleCount() !== last; i++) {
    last = handleCount();
    await tick(20);
  }
  const startTasks = taskCount();
  const startHandles = handleCount();
  const events = countEvents();
  const controller = chaosController({ name: 'stock', seed, enabled: false, faults: [...CHAOS_FAULTS] });
  const upstream = await startStockUpstream();
  const defended = await startDefended(upstream, controller);
  const debug = debugHandler({ dashboard: true, dashboardIntervalMs: 500 });
  const chaosSwitch = chaosHandler(controller);
  const debugServer = http.createServer((req, res) => {
    if (!chaosSwitch(req, res) && !debug(req, res)) res.writeHead(404).end();
  });
  const debugUrl = await listen(debugServer);
  const running: RunningDemo = {
    ordersUrl: defended.url,
    dashboardUrl: `${debugUrl}/debug/leash/`,
    chaosUrl: `${debugUrl}/debug/leash/chaos`,
    controller,
  };
  opts.log?.(`  dashboard: ${running.dashboardUrl}  (chaos switch: ${running.chaosUrl})`);
  // The service's idle state: what every phase must come back to.
  await tick(50);
  const idleTasks = taskCount();
  const phases: PhaseResult[] = [];

  const phase = async (name: string, url: string, chaosOn: boolean, defences: boolean, warmupMs: number) => {
    if (warmupMs > 0) {
      // Not measured, chaos off: connections, JIT and a cache that has seen the popular SKUs.
      controller.disable();
      await runLoad(background(), {
        url: `${url}/orders`,
        rate: opts.rate,
        durationMs: warmupMs,
        timeoutMs: 1_000,
      });
    }
    if (chaosOn) controller.enable();
    else controller.disable();
    opts.log?.(`  ${name}: ${opts.rate} req/s for ${opts.phaseMs} ms`);
    const before = { ...events.counts, cache: defended.cacheStats(), injected: injectedTotal(controller) };
    const r = await runLoad(background(), {
      url: `${url}/orders`,
      rate: opts.rate,
      durationMs: opts.phaseMs,
      connections: 200,
      timeoutMs: 1_000,
    });
    const cache = defended.cacheStats();
    // Served from the cache: fresh hits and stale values served while a refresh ran.
    const hits = cache.hits + cache.staleServed - before.cache.hits - before.cache.staleServed;
    const misses = cache.misses - before.cache.misses;
    const shed = r.statuses['503'] ?? 0;
    const injected = injectedTotal(controller) - before.injected;
    controller.disable();
    // Every client has left: the service and its upstream must come back to idle.
    // (Idle keep-alive connections to the stock service may stay pooled: the final check counts them.)
    await waitFor(() => upstream.open === 0 && taskCount() <= idleTasks, 2_000);
    phases.push({
      name,
      chaos: chaosOn,
      defences,
      requests: r.requests,
      ok: r.statuses['200'] ?? 0,
      errors: r.errors - shed,
      shed,
      p50: r.latency.percentile(50),
      p99: r.latency.percentile(99),
      breakerOpens: events.counts.breakerOpens - before.breakerOpens,
      retries: events.counts.retries - before.retries,
      cacheHitRate: defences ? hits / (hits + misses) : Number.NaN,
      injected,
      tasksAfter: taskCount() - idleTasks,
      upstreamOpenAfter: upstream.open,
    });
  };

  let queue: QueueSummary | undefined;
  let undefended: Awaited<ReturnType<typeof startUndefended>> | undefined;
  try {
    // Chaos is switched on between the two phases, on the running service with a warm cache.
    await phase('chaos off', defended.url, false, true, opts.warmupMs ?? 1_000);
    await phase('chaos on', defended.url, true, true, 0);
    if (opts.contrast ?? true) {
      undefended = await startUndefended(upstream, controller);
      await phase('chaos on, no defences', undefended.url, true, false, opts.warmupMs ?? 1_000);
    }
    await opts.hold?.(running, phases);
  } finally {
    controller.disable();
    await undefended?.close();
    queue = await defended.close();
    debug.close();
    await closeServer(debugServer);
    await upstream.close();
    events.stop();
  }
  await waitFor(() => taskCount() <= startTasks && handleCount() <= startHandles, 2_000);
  return {
    phases,
    queue,
    leaked: { tasks: taskCount() - startTasks, handles: handleCount() - startHandles },
    dashboardUrl: running.dashboardUrl,
    chaosUrl: running.chaosUrl,
    seed,
  };
}
