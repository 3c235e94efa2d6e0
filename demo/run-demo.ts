// The core of `npm start`: the same load against the leaky handler and the leash handler, measured
// the same way. demo/main.ts prints it; test/demo runs it with a small load.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Dependency } from './inventory-upstream.js';
import { delayFor, startInventory } from './inventory-upstream.js';
import type { LoadOptions, LoadResult } from './load-generator.js';
import { runLoad } from './load-generator.js';
import type { Call, Mode } from './orders-service.js';
import { httpCall, pgCall, startOrders } from './orders-service.js';
import { TraceEvents } from './trace-events.js';

export interface DemoOptions extends LoadOptions {
  /** databaseUrl makes the slow dependency a PostgreSQL pg_sleep query instead of HTTP. */
  databaseUrl?: string | undefined;
  log?: (line: string) => void;
  /** trace receives the request spans; a new recorder when not given. */
  trace?: TraceEvents;
  /** pidBase numbers the two trace rows (pidBase + 1 leaky, pidBase + 2 leash). Default: 0. */
  pidBase?: number;
}

interface SideOptions extends DemoOptions {
  baselineResources: number;
}

export interface SideResult {
  mode: Mode;
  load: LoadResult;
  /** upstreamOpen is how many dependency calls were still running once every client had left. */
  upstreamOpen: number;
  /** handlersRunning is how many handler invocations were still alive then. */
  handlersRunning: number;
  /** resourcesAlive is how many more Node async resources (sockets, timers) were alive than before the load. */
  resourcesAlive: number;
  /** heapGrowth is heapUsed after the load minus before, in bytes, both after a full GC. */
  heapGrowth: number;
  /** upstreamStarted is how many calls the dependency received. */
  upstreamStarted: number;
}

export interface DemoResult {
  dependency: string;
  sides: SideResult[];
  trace: TraceEvents;
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function resourceCount(): number {
  return process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap').length;
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Setup {
  dependency: Dependency;
  call: Call;
}

async function httpSetup(trace: TraceEvents, pid: number): Promise<Setup> {
  const inventory = await startInventory((name, start, end) => trace.span(pid, 2, name, start, end));
  return { dependency: inventory, call: httpCall(inventory.url) };
}

async function pgSetup(databaseUrl: string, mode: Mode): Promise<Setup> {
  const { default: pg } = await import('pg');
  const marker = `leash-demo-${mode}-${process.pid}`;
  // The article's incident: a small pool, slow queries, no timeout.
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  const observer = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  let started = 0;
  const call = pgCall(pool, marker, (n) => {
    started++;
    return delayFor(n).ms / 1000;
  });
  const activeSql = `SELECT pid FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE '%' || $1 || '%'`;
  return {
    call,
    dependency: {
      name: 'PostgreSQL pg_sleep through a pool of 10',
      get started() {
        return started;
      },
      open: async () => (await observer.query(activeSql, [marker])).rowCount ?? 0,
      async close() {
        // Stop what the leaky side left running, so the demo can exit.
        await observer.query(`SELECT pg_cancel_backend(pid) FROM (${activeSql}) AS a`, [marker]);
        await pool.end();
        await observer.end();
      },
    },
  };
}

async function runSide(
  mode: Mode,
  opts: SideOptions,
  trace: TraceEvents,
): Promise<{ side: SideResult; name: string }> {
  const pid = (opts.pidBase ?? 0) + (mode === 'leaky' ? 1 : 2);
  trace.process(pid, mode === 'leaky' ? 'leaky handler (no context, no timeout)' : 'leash handler (req.ctx)');
  trace.thread(pid, 1, 'orders service');
  trace.thread(pid, 2, opts.databaseUrl ? 'postgres' : 'inventory upstream');
  const setup = opts.databaseUrl ? await pgSetup(opts.databaseUrl, mode) : await httpSetup(trace, pid);
  const orders = await startOrders(mode, setup.call, (name, start, end, outcome) =>
    trace.span(pid, 1, name, start, end, { outcome }),
  );
  // Let the previous side's closed sockets be released before taking the baseline.
  for (let i = 0; i < 100 && resourceCount() > opts.baselineResources; i++) await tick(10);
  const heapBefore = heapUsed();
  const resourcesBefore = resourceCount();
  opts.log?.(
    `  ${mode}: ${opts.requests} requests, ${opts.concurrency} at a time, clients give up after ${opts.clientTimeoutMs} ms`,
  );
  const load = await runLoad(orders.url, opts);
  // Every client has left. Give the server up to half a second to notice (a loaded machine is slow to
  // deliver socket closes), then look at what is still alive. Same rule for both sides.
  await tick(100);
  for (let i = 0; i < 20 && ((await setup.dependency.open()) > 0 || orders.running > 0); i++) await tick(20);
  const side: SideResult = {
    mode,
    load,
    upstreamOpen: await setup.dependency.open(),
    handlersRunning: orders.running,
    resourcesAlive: resourceCount() - resourcesBefore,
    heapGrowth: heapUsed() - heapBefore,
    upstreamStarted: setup.dependency.started,
  };
  await orders.close();
  await setup.dependency.close();
  for (let i = 0; i < 200 && orders.running > 0; i++) await tick(10);
  return { side, name: setup.dependency.name };
}

/** runDemo runs the same load against both handler styles, one after the other. */
export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const trace = opts.trace ?? new TraceEvents();
  const sideOpts = { ...opts, baselineResources: resourceCount() + 2 }; // + the two listening servers
  const leaky = await runSide('leaky', sideOpts, trace);
  const leash = await runSide('leashjs', sideOpts, trace);
  return { dependency: leaky.name, sides: [leaky.side, leash.side], trace };
}
