// leash/http benchmarks. Run: cd bench && node --expose-gc --import tsx http.bench.ts
// (build first: npx tsc -p tsconfig.build.json; this imports leash from the package name, i.e. dist/).
//
// 1. Request-context creation and teardown (micro): requestContext on a request object and its
//    response's 'close', against the bare core operations it is made of. Goal: at most 1 µs.
// 2. Middleware overhead (autocannon, same process, same run): a hello-world route on each framework,
//    bare and with the leash adapter, interleaved. Goal: at most 5% fewer requests per second.
//
// The machine this was written on has 2 cores shared with other work, and autocannon runs in the same
// process as the server: absolute req/s are low and noisy, only the ratio within one run means much.
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { background, withCancelCause, withTimeout } from 'leash';
import { expressContext, fastifyContext, koaContext, requestContext, withContext } from 'leash/http';

const durationS = Number(process.env.BENCH_SECONDS ?? 4);

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
        res.once('close', () => ac.abort());
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

async function rps(start: () => Promise<Started>): Promise<number> {
  const s = await start();
  try {
    await autocannon({ url: s.url, connections: 50, duration: 1 }); // warm-up
    const r = await autocannon({ url: s.url, connections: 50, duration: durationS });
    return r.requests.average;
  } finally {
    await s.close();
  }
}

console.log(
  `\n## hello-world req/s, bare vs leash adapter (autocannon, 50 connections, ${durationS} s each, same process)`,
);
console.log(`${'framework'.padEnd(12)} ${'bare'.padStart(9)} ${'leash'.padStart(9)}  change`);
for (const [name, start] of Object.entries(servers)) {
  // Order bare, leash, leash, bare and keep the better of each pair, so drift hits both sides.
  const bare1 = await rps(() => start(false));
  const leash1 = await rps(() => start(true));
  const leash2 = await rps(() => start(true));
  const bare2 = await rps(() => start(false));
  const bare = Math.max(bare1, bare2);
  const leash = Math.max(leash1, leash2);
  const change = ((leash - bare) / bare) * 100;
  console.log(
    `${name.padEnd(12)} ${bare.toFixed(0).padStart(9)} ${leash.toFixed(0).padStart(9)}  ${change >= 0 ? '+' : ''}${change.toFixed(1)}%${change < -5 ? '  (goal: >= -5%: MISSED)' : ''}`,
  );
}
