// One server for bench/metrics.bench.ts, in its own process so that each run starts clean and its
// CPU time is its own. Every variant serves the same leash app (withContext, one cache hit per
// request) and differs only in the metrics it keeps:
//   none        no metrics
//   prom-client prom-client's collectDefaultMetrics + an http_request_duration_seconds histogram
//               (method, route, status_code) observed on every response: the usual baseline
//   leash       leashjs/metrics' collectMetrics (every family, event loop per 1 s interval)
//   leash-duration  the same with httpDuration: true (a request duration histogram too)
// Both metric variants are scraped once a second, as a Prometheus server would.
// Usage: node --import tsx metrics-server.ts <none|prom-client|leash|leash-duration>
// Prints {"port": N}; answers each line on stdin with {"cpuUs": N}; exits when stdin closes.
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

const register = new Registry();
let observe: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | undefined;
if (variant === 'prom-client') {
  collectDefaultMetrics({ register });
  const h = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request durations',
    labelNames: ['method', 'route', 'status_code'],
    registers: [register],
  });
  observe = (req, res) => {
    const end = h.startTimer();
    res.once('finish', () => end({ method: req.method, route: '/', status_code: res.statusCode }));
  };
} else if (variant.startsWith('leash')) {
  collectMetrics({
    register,
    httpDuration: variant === 'leash-duration',
    eventLoop: variant === 'leash-noloop' ? false : undefined,
  });
}
if (variant !== 'none' && variant !== 'leash-noscrape')
  setInterval(() => void register.metrics(), 1000).unref();

const app = withContext(root, async (req, res) => {
  observe?.(req, res);
  const v = await cache.getOrLoad(req.ctx, 'hello', async () => 'hello');
  res.end(v);
});
const server = http.createServer(app);
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: (server.address() as AddressInfo).port }));
});
const lines = createInterface({ input: process.stdin });
lines.on('line', () => {
  const c = process.cpuUsage();
  console.log(JSON.stringify({ cpuUs: c.user + c.system }));
});
lines.on('close', () => {
  server.closeAllConnections();
  server.close();
  process.exit(0);
});
