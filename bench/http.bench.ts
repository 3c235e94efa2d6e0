// leash/http benchmarks. Run: cd bench && node --expose-gc --import tsx http.bench.ts
// (build first: npx tsc -p tsconfig.build.json; this imports leash from the package name, i.e. dist/).
//
// 1. Request-context creation and teardown (micro): requestContext on a request object and its
//    response's 'close', against the bare core operations it is made of. Goal: at most 1 µs.
// 2. Middleware overhead (autocannon in a child process, same run): a hello-world route on each framework,
//    bare and with the leash adapter, interleaved. Goal: at most 5% fewer requests per second.
//
// The machine this was written on has 2 cores shared with other work: absolute req/s are low and
// noisy, only the ratios within one run mean much, and even those move by several percent.
import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { background, withCancelCause, withTimeout } from 'leash';
import { expressContext, fastifyContext, koaContext, requestContext, withContext } from 'leash/http';

const durationS = Number(process.env.BENCH_SECONDS ?? 3);

// ---- 1. micro ----

class FakeResponse extends EventEmitter {
  headersSent = false;
  writableFinished = true;
  writableEnded = true;
  setHeader(_k: string, _v: unknown): void {}
}

function nsPerOp(run: (n: number) => void, ops = 200_000, rounds = 7): number {
  run(ops / 4);
  (globalThis as { gc?: () => void }).gc?.();
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    run(ops);
    samples.push(Number(process.hrtime.bigint() - t0) / ops);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

const root = background();
const abortReason = new Error('client gone'); // a shared reason: abort() alone builds a DOMException each time
const plainReq = { headers: {} } as unknown as http.IncomingMessage;
const fullReq = {
  headers: {
    'x-request-id': 'order-42',
    'x-request-timeout': '5000',
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  },
} as unknown as http.IncomingMessage;

const micro: [string, (n: number) => void][] = [
  [
    'requestContext + close (no headers: new request id)',
    (n) => {
      for (let i = 0; i < n; i++) {
        const res = new FakeResponse();
        requestContext(root, plainReq, res as unknown as http.ServerResponse);
        res.emit('close');
      }
    },
  ],
  [
    'requestContext + close (id, traceparent, 5 s deadline)',
    (n) => {
      for (let i = 0; i < n; i++) {
        const res = new FakeResponse();
        requestContext(root, fullReq, res as unknown as http.ServerResponse);
        res.emit('close');
      }
    },
  ],
  [
    'same, 100 requests in flight (a server under load)',
    (n) => {
      const ring: FakeResponse[] = [];
      for (let i = 0; i < 100; i++) {
        ring.push(new FakeResponse());
        requestContext(root, fullReq, ring[i] as unknown as http.ServerResponse);
      }
      for (let i = 0; i < n; i++) {
        const slot = i % 100;
        ring[slot]!.emit('close');
        const res = new FakeResponse();
        requestContext(root, fullReq, res as unknown as http.ServerResponse);
        ring[slot] = res;
      }
      for (const res of ring) res.emit('close');
    },
  ],
  [
    'peer: bare withCancelCause + cancel (+ response object)',
    (n) => {
      for (let i = 0; i < n; i++) {
        const res = new FakeResponse();
        const [, cancel] = withCancelCause(root);
        res.once('close', () => cancel());
        res.emit('close');
      }
    },
  ],
  [
    'peer: bare withTimeout + cancel',
    (n) => {
      for (let i = 0; i < n; i++) withTimeout(root, 5000)[1]();
    },
  ],
  [
    'peer: AbortController + close listener (what Express apps do by hand)',
    (n) => {
      for (let i = 0; i < n; i++) {
        const res = new FakeResponse();
        const ac = new AbortController();
        res.once('close', () => ac.abort(abortReason));
        res.emit('close');
      }
    },
  ],
];

console.log('## request context: creation + teardown (median of 7 rounds)');
const microResults = micro.map(([name, run]) => [name, nsPerOp(run)] as const);
for (const [name, ns] of microResults) console.log(`${name.padEnd(72)} ${ns.toFixed(0).padStart(6)} ns/op`);
const [plain, full, loaded] = microResults.map(([, ns]) => ns) as [number, number, number];
console.log(
  `goal: <= 1000 ns: no deadline ${plain <= 1000 ? 'met' : 'MISSED'}; with a deadline under load ${loaded <= 1000 ? 'met' : 'MISSED'}; ` +
    `with a deadline, nothing else in flight ${full <= 1000 ? 'met' : 'MISSED'} (the lone deadline arms and clears a Node timer each time)`,
);

// ---- 2. autocannon ----

type Started = { url: string; close(): Promise<void> };

async function listen(server: http.Server): Promise<Started> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

const servers: Record<string, (withLeash: boolean) => Promise<Started>> = {
  'node:http': (withLeash) => {
    const hello = (_req: http.IncomingMessage, res: http.ServerResponse) => res.end('hello');
    return listen(http.createServer(withLeash ? withContext(root, hello) : hello));
  },
  express: (withLeash) => {
    const app = express();
    if (withLeash) app.use(expressContext(root));
    app.get('/', (_req, res) => {
      res.send('hello');
    });
    return listen(http.createServer(app));
  },
  fastify: async (withLeash) => {
    const app = Fastify({ logger: false });
    if (withLeash) await app.register(fastifyContext(root));
    app.get('/', async () => 'hello');
    await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/`,
      close: () => app.close(),
    };
  },
  koa: (withLeash) => {
    const app = new Koa();
    if (withLeash) app.use(koaContext(root));
    app.use(async (kctx) => {
      kctx.body = 'hello';
    });
    return listen(http.createServer(app.callback()));
  },
};

// autocannon runs in a child process, so the server under test keeps this process's core to itself.
const execFileAsync = promisify(execFile);
const autocannonBin = fileURLToPath(new URL('./node_modules/autocannon/autocannon.js', import.meta.url));

// Asynchronous on purpose: the server under test runs on this process's event loop.
async function rpsOf(url: string, seconds: number): Promise<number> {
  const { stdout } = await execFileAsync(
    process.execPath,
    [autocannonBin, '-j', '-c', '50', '-d', String(seconds), url],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return (JSON.parse(stdout) as { requests: { average: number } }).requests.average;
}

async function rps(start: () => Promise<Started>): Promise<number> {
  const s = await start();
  try {
    await rpsOf(s.url, 1); // warm-up: JIT, connection setup
    return await rpsOf(s.url, durationS);
  } finally {
    await s.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(
  `\n## hello-world req/s, bare vs leash adapter (autocannon -c 50, ${durationS} s per run, 3 interleaved pairs, medians)`,
);
console.log(
  `${'framework'.padEnd(12)} ${'bare'.padStart(9)} ${'leash'.padStart(9)}  change (median of pair ratios)`,
);
for (const [name, start] of Object.entries(servers)) {
  // Alternate the order inside each pair so that drift in machine load hits both sides alike.
  const bare: number[] = [];
  const leash: number[] = [];
  const ratios: number[] = [];
  for (let pair = 0; pair < 3; pair++) {
    const first = pair % 2 === 0;
    const a = await rps(() => start(!first));
    const b = await rps(() => start(first));
    const [b0, l0] = first ? [a, b] : [b, a];
    bare.push(b0);
    leash.push(l0);
    ratios.push(l0 / b0);
  }
  const change = (median(ratios) - 1) * 100;
  console.log(
    `${name.padEnd(12)} ${median(bare).toFixed(0).padStart(9)} ${median(leash).toFixed(0).padStart(9)}  ${change >= 0 ? '+' : ''}${change.toFixed(1)}%${change < -5 ? '  (goal: >= -5%: MISSED)' : ''}`,
  );
}
