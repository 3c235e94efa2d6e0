// One server for bench/metrics.bench.ts, in its own process so that each run starts clean and its
// CPU time is its own. Every variant serves the same leash app (withContext, one cache hit per
// request) and differs only in the metrics it keeps:
//   none        no metrics
//   prom-client prom-client's collectDefaultMetrics + an http_request_duration_seconds histogram
//               (method, route, status_code) observed on every response: the usual baseline
//   leash       leashjs/metrics' collectMetrics (every family, event loop per 1 s interval)
//   leash-duration  the same with httpDuration: true (a request duration histogram too)
//   toggle      starts with no metrics; the stdin line "on leash", "on prom-client" or "on none"
//               turns one kind on and "off" turns it off (see toggle() below), so that one process,
//               one JIT state and one set of connections can alternate between them under steady load
// Both metric variants are scraped once a second, as a Prometheus server would.
// Usage: node --import tsx metrics-server.ts <none|prom-client|leash|leash-duration|toggle>
// Prints {"port": N}; answers each line on stdin with {"cpuUs": N, "served": N, "atMs": N} (CPU time
// so far, responses ended so far, performance.now()), taken before the line's command is carried
// out; exits when stdin closes.
import diagnostics_channel from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
// This worktree's build, not the package bench/node_modules links to (it may lag behind).
import { createCache } from '../dist/cache/index.js';
import { background } from '../dist/context/index.js';
import { withContext } from '../dist/http/index.js';
import { collectMetrics } from '../dist/metrics/index.js';

const variant = process.argv[2] as string;
const root = background();
const cache = createCache<string>({ name: 'greetings', maximumSize: 10 });
cache.set('hello', 'hello');

type Observe = (req: http.IncomingMessage, res: http.ServerResponse) => void;

// promClient registers prom-client's usual setup on `reg` (its default metrics and a duration
// histogram) and returns what observes one response.
function promClient(reg: Registry): Observe {
  collectDefaultMetrics({ register: reg });
  const h = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request durations',
    labelNames: ['method', 'route', 'status_code'],
    registers: [reg],
  });
  return (req, res) => {
    const end = h.startTimer();
    res.once('finish', () => end({ method: req.method, route: '/', status_code: res.statusCode }));
  };
}

const register = new Registry();
let observe: Observe | undefined;
if (variant === 'prom-client') {
  observe = promClient(register);
} else if (variant.startsWith('leash')) {
  collectMetrics({
    register,
    httpDuration: variant === 'leash-duration',
    eventLoop: variant === 'leash-noloop' ? false : undefined,
  });
}
if (variant !== 'none' && variant !== 'leash-noscrape' && variant !== 'toggle')
  setInterval(() => void register.metrics(), 1000).unref();

// toggle: metrics switched at run time. "on <kind>" turns one kind on (from off), "off" turns it off:
//   leash        leash's collectMetrics on a fresh registry, scraped every second
//   prom-client  prom-client's defaults + the per-response duration histogram, scraped every second
//                (its default metrics are registered once, at the first "on": prom-client cannot
//                stop the event-loop monitor collectDefaultMetrics starts, so that one timer keeps
//                running in every later phase, whatever the state)
//   none         changes nothing: an A/A control of the paired measurement itself
let toggled: { stop(): void } | undefined;
let promRegistry: Registry | undefined;
let promObserve: Observe | undefined;
function toggle(kind: string | undefined): void {
  if (kind !== undefined && !toggled) {
    // TOGGLE_WITHOUT, to chase leash's cost down: "loop" turns the event-loop families off,
    // "scrape" the scrape, "collector" replaces the collector by subscribers that do nothing.
    const without = process.env.TOGGLE_WITHOUT ?? '';
    let reg: Registry | undefined;
    let m: { stop(): void } = { stop() {} };
    if (kind === 'leash') {
      reg = new Registry();
      m = without.includes('collector')
        ? noopSubscribers()
        : collectMetrics({ register: reg, eventLoop: without.includes('loop') ? false : undefined });
      if (without.includes('scrape')) reg = undefined;
    } else if (kind === 'prom-client') {
      if (promRegistry === undefined) {
        promRegistry = new Registry();
        promObserve = promClient(promRegistry);
      }
      reg = promRegistry;
      observe = promObserve;
      m = {
        stop() {
          observe = undefined;
        },
      };
    } else if (kind !== 'none') throw new Error(`unknown toggle kind ${kind}`);
    const scraped = reg;
    const scrape = setInterval(() => {
      if (scraped !== undefined) void scraped.metrics();
    }, 1000);
    scrape.unref();
    toggled = {
      stop() {
        clearInterval(scrape);
        m.stop();
      },
    };
  } else if (kind === undefined && toggled) {
    toggled.stop();
    toggled = undefined;
  }
}
let served = 0;

// noopSubscribers subscribes a function that does nothing to the events a request here publishes,
// so that the payloads are built and published but nobody counts them (TOGGLE_WITHOUT=collector).
function noopSubscribers(): { stop(): void } {
  const names = ['leash:http:request-start', 'leash:http:request-end', 'leash:cache:hit'];
  const noop = (): void => {};
  for (const n of names) diagnostics_channel.subscribe(n, noop);
  return {
    stop() {
      for (const n of names) diagnostics_channel.unsubscribe(n, noop);
    },
  };
}

const app = withContext(root, async (req, res) => {
  observe?.(req, res);
  const v = await cache.getOrLoad(req.ctx, 'hello', async () => 'hello');
  res.end(v);
  served++;
});
const server = http.createServer(app);
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: (server.address() as AddressInfo).port }));
});
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const c = process.cpuUsage();
  console.log(JSON.stringify({ cpuUs: c.user + c.system, served, atMs: performance.now() }));
  if (variant === 'toggle' && line === 'off') toggle(undefined);
  else if (variant === 'toggle' && line.startsWith('on ')) toggle(line.slice(3));
});
lines.on('close', () => {
  server.closeAllConnections();
  server.close();
  process.exit(0);
});
