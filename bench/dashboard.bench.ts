// What one dashboard poll costs the process it watches: `GET /debug/leash/dashboard/state` (walk
// everything alive, fold, group, build the tree and the flame graph, serialise) with N live tasks
// blocked on a channel, task stacks and debug tracking on, against `GET /debug/leash/tasks?debug=1&
// format=json` (profile(): the same walk without folding, the nearest peer) in the same run, both
// over HTTP from the same process. Also the
// `dashboard/samples` answer with a full ring of 300 samples. Medians of 7 after 2 warm-ups.
//
// Run: npx tsc -p tsconfig.build.json && cd bench && node --expose-gc --import tsx dashboard.bench.ts
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { background, withCancel } from 'leashjs';
import { debugHandler, startTracking } from 'leashjs/leak';
import { Channel, go } from 'leashjs/task';

startTracking({ mode: 'debug' });

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timeIt(fn: () => Promise<unknown> | unknown): Promise<number> {
  for (let i = 0; i < 2; i++) await fn();
  const runs: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    await fn();
    runs.push(performance.now() - t0);
  }
  return median(runs);
}

const debug = debugHandler({ dashboard: true, dashboardIntervalMs: 100, dashboardSamples: 300 });
const server = http.createServer((req, res) => {
  if (!debug(req, res)) res.writeHead(404).end();
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/debug/leash`;

console.log(`node ${process.version}; GET dashboard/state vs GET tasks?debug=1&format=json (profile)`);
console.log('live tasks | state ms | state KB | profile ms | ratio');
for (const n of [100, 1_000, 10_000]) {
  const [ctx, cancel] = withCancel(background());
  const ch = new Channel<number>();
  const handles = [];
  for (let i = 0; i < n; i++) {
    handles.push(go(ctx, async (c) => (await ch.recv(c)).value, { name: `worker-${i % 10}` }));
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  let bytes = 0;
  const state = await timeIt(async () => {
    bytes = (await (await fetch(`${base}/dashboard/state`)).arrayBuffer()).byteLength;
  });
  const peer = await timeIt(async () => (await fetch(`${base}/tasks?debug=1&format=json`)).arrayBuffer());
  console.log(
    `${String(n).padStart(10)} | ${state.toFixed(1).padStart(8)} | ${(bytes / 1024).toFixed(0).padStart(8)} | ${peer
      .toFixed(1)
      .padStart(10)} | ${(state / peer).toFixed(2)}x`,
  );
  cancel();
  await Promise.allSettled(handles.map((h) => h.done));
}
await new Promise((resolve) => setTimeout(resolve, 30_500));
let bytes = 0;
const samples = await timeIt(async () => {
  bytes = (await (await fetch(`${base}/dashboard/samples`)).arrayBuffer()).byteLength;
});
console.log(
  `dashboard/samples with a full ring (300): ${samples.toFixed(2)} ms, ${(bytes / 1024).toFixed(0)} KB`,
);
debug.close();
server.close();
