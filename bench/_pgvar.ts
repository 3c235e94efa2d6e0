import { background, withCancel, withTimeout } from 'leashjs';
import { query } from 'leashjs/pg';
import pg from 'pg';
const pool = new pg.Pool({ host: '127.0.0.1', user: 'postgres', database: 'test', max: 20 });
const text = 'SELECT 1 AS n';
const [cc] = withCancel(background());
const [tc] = withTimeout(background(), 3_600_000);
const variants: Record<string, () => Promise<unknown>> = {
  plain: () => pool.query(text),
  bg: () => query(background(), pool, text),
  cancelctx: () => query(cc, pool, text),
  longdeadline: () => query(tc, pool, text),
  perquery: async () => { const [ctx, cancel] = withTimeout(background(), 5000); try { return await query(ctx, pool, text); } finally { cancel(); } },
  ctxonly: async () => { const [ctx, cancel] = withTimeout(background(), 5000); try { return await pool.query(text); } finally { cancel(); } },
};
async function run(op: () => Promise<unknown>) {
  let n = 0; let stop = false;
  const t0 = performance.now(); const c0 = process.cpuUsage();
  setTimeout(() => { stop = true; }, 1500);
  await Promise.all(Array.from({ length: 500 }, async () => { while (!stop) { await op(); n++; } }));
  const cpu = process.cpuUsage(c0);
  return `${Math.round(n / ((performance.now() - t0) / 1000))}q/s ${((cpu.user + cpu.system) / n).toFixed(1)}µs`;
}
for (let r = 0; r < 3; r++) {
  const out: string[] = [];
  for (const [k, v] of Object.entries(variants)) out.push(`${k} ${await run(v)}`);
  console.log(out.join(' | '));
}
await pool.end();
