// The "orders" service of the demo, twice: once written the way the article's incident was (no
// context, no timeout), once with leash. Both call the same slow dependency.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Pool } from 'pg';
import type { Context } from '../src/context/index.js';
import { background } from '../src/context/index.js';
import { fetch, withContext } from '../src/http/index.js';
import { query } from '../src/pg/index.js';

export type Mode = 'leaky' | 'leashjs';

/** Call is the slow dependency as each handler style uses it. */
export interface Call {
  leaky(n: number): Promise<string>;
  leash(ctx: Context, n: number): Promise<string>;
}

export function httpCall(url: string): Call {
  return {
    // The incident: no signal, no timeout. The call runs to the end whatever the client does.
    async leaky(n) {
      const r = await globalThis.fetch(`${url}/stock/${n}`);
      if (!r.ok) throw new Error(`inventory answered ${r.status}`);
      return r.text();
    },
    async leash(ctx, n) {
      const r = await fetch(ctx, `${url}/stock/${n}`);
      if (!r.ok) throw new Error(`inventory answered ${r.status}`);
      return r.text();
    },
  };
}

export function pgCall(pool: Pool, marker: string, secondsFor: (n: number) => number): Call {
  const sql = `SELECT pg_sleep($1) /* ${marker} */`;
  return {
    async leaky(n) {
      await pool.query(sql, [secondsFor(n)]);
      return 'ok';
    },
    async leash(ctx, n) {
      await query(ctx, pool, sql, [secondsFor(n)]);
      return 'ok';
    },
  };
}

export interface OrdersService {
  url: string;
  /** running is how many handler invocations have not finished yet. */
  readonly running: number;
  close(): Promise<void>;
}

export async function startOrders(
  mode: Mode,
  call: Call,
  onSpan?: (name: string, start: number, end: number, outcome: string) => void,
): Promise<OrdersService> {
  let running = 0;
  let seq = 0;
  const leaky: http.RequestListener = async (_req, res) => {
    const n = seq++;
    const t0 = performance.now();
    running++;
    try {
      const body = await call.leaky(n);
      res.end(body);
      onSpan?.(`order #${n}`, t0, performance.now(), 'ok');
    } catch {
      if (!res.headersSent) res.writeHead(502).end();
      onSpan?.(`order #${n}`, t0, performance.now(), 'error');
    } finally {
      running--;
    }
  };
  const leash = withContext(
    background(),
    async (req, res) => {
      const n = seq++;
      const t0 = performance.now();
      running++;
      try {
        const body = await call.leash(req.ctx, n);
        res.end(body);
        onSpan?.(`order #${n}`, t0, performance.now(), 'ok');
      } catch (err) {
        if (!res.headersSent && !req.ctx.err) res.writeHead(502).end();
        onSpan?.(`order #${n}`, t0, performance.now(), req.ctx.err ? 'cancelled' : 'error');
        if (req.ctx.err) throw err; // the adapter answers 504 for a deadline, nothing for a gone client
      } finally {
        running--;
      }
    },
    { timeoutMs: 1_000, maxTimeoutMs: 2_000 },
  );
  const server = http.createServer(mode === 'leaky' ? leaky : leash);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get running() {
      return running;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
