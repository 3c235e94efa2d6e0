// Test support: the same routes served by each of the four leashjs/http adapters on 127.0.0.1:0.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import type { Context } from '../../src/context/index.js';
import { isCanceled, isDeadlineExceeded } from '../../src/context/index.js';
import type { RequestContextOptions } from '../../src/http/index.js';
import {
  contextOf,
  currentContext,
  expressContext,
  fastifyContext,
  koaContext,
  withContext,
} from '../../src/http/index.js';

// leashjs/http's declarations do not augment fastify's types (they must compile where fastify is not
// installed); an application adds request.ctx itself, as docs/http.md shows.
declare module 'fastify' {
  interface FastifyRequest {
    ctx: Context;
  }
}

export type AdapterKind = 'node' | 'express' | 'fastify' | 'koa';
export const adapterKinds: AdapterKind[] = ['node', 'express', 'fastify', 'koa'];

/** Reply is what a route answers; `raw` lets a route write on the raw response itself. */
export interface Reply {
  status: number;
  body: string;
}

/** Route is one test route, written once for every adapter. Throwing goes to the framework's error path. */
export type Route = (
  ctx: Context,
  url: URL,
  req: http.IncomingMessage,
  res: http.ServerResponse,
) => Promise<Reply | undefined>;

export interface App {
  url: string;
  server: http.Server;
  close(): Promise<void>;
}

function check(ctx: Context): void {
  // Every adapter must also expose the request context through AsyncLocalStorage.
  if (currentContext() !== ctx) throw new Error('currentContext() is not the request context');
}

export async function startApp(
  kind: AdapterKind,
  root: Context,
  route: Route,
  opts: RequestContextOptions = {},
  beforeListen?: (server: http.Server) => void,
): Promise<App> {
  // The route wrapper checks currentContext(), so AsyncLocalStorage is on unless a test says otherwise.
  opts = { asyncLocalStorage: true, ...opts };
  let server: http.Server;
  let closeApp: (() => Promise<void>) | undefined;
  const run = async (
    ctx: Context,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<Reply | undefined> => {
    check(ctx);
    const reply = await route(ctx, new URL(req.url ?? '/', 'http://x'), req, res);
    check(ctx);
    return reply;
  };
  if (kind === 'node') {
    server = http.createServer(
      withContext(
        root,
        async (req, res) => {
          const reply = await run(req.ctx, req, res);
          if (reply) {
            res.statusCode = reply.status;
            res.end(reply.body);
          }
        },
        opts,
      ),
    );
  } else if (kind === 'express') {
    const app = express();
    app.use(expressContext(root, opts));
    app.use(async (req, res) => {
      const reply = await run(contextOf(req), req, res);
      if (reply) res.status(reply.status).send(reply.body);
    });
    // docs/http.md's error handler: quiet for a request's own cancellation or deadline (the default
    // handler prints a stack for each), 503/504 unless an answer already went out.
    app.use((err: unknown, _req: express.Request, res: express.Response, next: express.NextFunction) => {
      if (isCanceled(err) || isDeadlineExceeded(err)) {
        if (!res.headersSent) res.status(isDeadlineExceeded(err) ? 504 : 503).end();
        return;
      }
      if (res.headersSent) return next(err);
      res.status(500).send(String(err));
    });
    server = http.createServer(app);
  } else if (kind === 'fastify') {
    const app = Fastify({ logger: false, forceCloseConnections: false });
    await app.register(fastifyContext(root, opts));
    // docs/http.md's error handler: quiet for a request's own cancellation or deadline.
    app.setErrorHandler((err, _request, reply) => {
      if (isCanceled(err) || isDeadlineExceeded(err)) {
        if (!reply.sent) reply.code(isDeadlineExceeded(err) ? 504 : 503).send();
        return;
      }
      reply.code(500).send(String(err));
    });
    app.all('/*', async (request, reply) => {
      const r = await run(request.ctx, request.raw, reply.raw);
      if (r === undefined) return reply.hijack();
      return reply.code(r.status).type('text/plain').send(r.body);
    });
    await app.ready();
    server = app.server;
    closeApp = () => app.close();
  } else {
    const app = new Koa();
    app.silent = true;
    app.use(koaContext(root, opts));
    app.use(async (kctx) => {
      const reply = await run(kctx.state.ctx, kctx.req, kctx.res);
      if (reply) {
        kctx.status = reply.status;
        kctx.body = reply.body;
      } else {
        kctx.respond = false;
      }
    });
    server = http.createServer(app.callback());
  }
  beforeListen?.(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    async close() {
      server.closeAllConnections();
      if (closeApp) await closeApp();
      else if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Upstream is a plain node:http server that records each request and when its socket closed. */
export interface Upstream {
  url: string;
  server: http.Server;
  requests: { headers: http.IncomingHttpHeaders; closed: Promise<number> }[];
  /** arrived resolves with the next request that arrives. */
  arrived(): Promise<{ headers: http.IncomingHttpHeaders; closed: Promise<number> }>;
  close(): Promise<void>;
}

/** startUpstream answers /echo with the headers it got, and never answers anything else. */
export async function startUpstream(): Promise<Upstream> {
  const requests: Upstream['requests'] = [];
  let waiting: ((r: Upstream['requests'][number]) => void)[] = [];
  const server = http.createServer((req, res) => {
    const closed = new Promise<number>((resolve) =>
      req.socket.once('close', () => resolve(performance.now())),
    );
    const entry = { headers: req.headers, closed };
    requests.push(entry);
    const w = waiting;
    waiting = [];
    for (const f of w) f(entry);
    if (req.url?.startsWith('/echo')) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.headers));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    requests,
    arrived: () => new Promise((resolve) => waiting.push(resolve)),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** get makes one request with node:http and resolves with status, headers and body. */
export function get(
  url: string,
  headers: Record<string, string> = {},
  agent?: http.Agent,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/**
 * within rejects if p does not settle within ms. It settles as soon as p does (no promise of its own
 * is left pending forever, which verifyNone would rightly report as abandoned).
 */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(t);
        reject(err);
      },
    );
  });
}
