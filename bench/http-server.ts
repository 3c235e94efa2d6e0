// One hello-world server for bench/http.bench.ts, in its own process so that each measurement starts
// clean (AsyncLocalStorage, once enabled, stays enabled for the whole process) and its CPU time is
// its own. Usage: node --import tsx http-server.ts <node:http|express|fastify|koa> <bare|leash|leash-no-als|bare-echo>
// Prints {"port": N}; answers each line on stdin with {"cpuUs": N}; exits when stdin closes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { background } from 'leashjs';
import type { RequestContextOptions } from 'leashjs/http';
import { expressContext, fastifyContext, koaContext, withContext } from 'leashjs/http';

const [framework, variant] = process.argv.slice(2) as [string, string];
const root = background();
// bare-echo: no leash, but the response carries an x-request-id header as the adapter's does, to
// measure what echoing the id costs by itself (node:http only).
const withLeash = variant !== 'bare' && variant !== 'bare-echo';
const opts: RequestContextOptions = { asyncLocalStorage: variant !== 'leash-no-als' };

async function start(): Promise<http.Server> {
  if (framework === 'node:http') {
    const hello = (_req: http.IncomingMessage, res: http.ServerResponse) => res.end('hello');
    if (variant === 'bare-echo') {
      return http.createServer((req, res) => {
        res.setHeader('x-request-id', '0f8fad5b-d9cb-469f-a165-000000000001');
        hello(req, res);
      });
    }
    return http.createServer(withLeash ? withContext(root, hello, opts) : hello);
  }
  if (framework === 'express') {
    const app = express();
    if (withLeash) app.use(expressContext(root, opts));
    app.get('/', (_req, res) => {
      res.send('hello');
    });
    return http.createServer(app);
  }
  if (framework === 'fastify') {
    const app = Fastify({ logger: false });
    if (withLeash) await app.register(fastifyContext(root, opts));
    app.get('/', async () => 'hello');
    await app.ready();
    return app.server;
  }
  const app = new Koa();
  if (withLeash) app.use(koaContext(root, opts));
  app.use(async (kctx) => {
    kctx.body = 'hello';
  });
  return http.createServer(app.callback());
}

const server = await start();
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
});
