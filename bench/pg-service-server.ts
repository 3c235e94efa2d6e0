// The service of issue 10's harness, for bench/pg.bench.ts part 3, in its own process so that each
// run starts clean and its CPU time is its own: node:http, one PostgreSQL statement per request on a
// pool of BENCH_SERVICE_POOL (default 10), plain pg or leash (withContext with a 5 s deadline, then
// query under it). Usage: node --import tsx pg-service-server.ts <plain|leash> <sql>
// Prints {"port": N}; answers each line on stdin with {"cpuUs": N}; exits when stdin closes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { background } from 'leashjs';
import { withContext } from 'leashjs/http';
import { query } from 'leashjs/pg';
import pg from 'pg';

const [variant, sql] = process.argv.slice(2) as [string, string];
const pool = new pg.Pool({
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? 'postgres',
  database: process.env.PGDATABASE ?? 'test',
  max: Number(process.env.BENCH_SERVICE_POOL ?? 10),
});
pool.on('error', () => {});

const answer = (res: http.ServerResponse, rows: unknown[]) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(rows));
};
const server =
  variant === 'plain-ctx'
    ? http.createServer(
        withContext(
          background(),
          async (_req, res) => {
            const r = await pool.query(sql);
            answer(res, r.rows);
          },
          { timeoutMs: 5_000 },
        ),
      )
    : variant === 'plain'
      ? http.createServer((_req, res) => {
          pool.query(sql).then(
            (r) => answer(res, r.rows),
            () => {
              res.statusCode = 500;
              res.end();
            },
          );
        })
      : http.createServer(
          withContext(
            background(),
            async (req, res) => {
              const r = await query(req.ctx, pool, sql);
              answer(res, r.rows);
            },
            { timeoutMs: 5_000 },
          ),
        );
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: (server.address() as AddressInfo).port }));
});
const lines = createInterface({ input: process.stdin });
lines.on('line', () => {
  const u = process.cpuUsage();
  console.log(JSON.stringify({ cpuUs: u.user + u.system }));
});
lines.on('close', () => {
  server.close();
  server.closeAllConnections();
  void pool.end();
});
