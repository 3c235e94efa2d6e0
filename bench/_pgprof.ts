import { background, withTimeout } from 'leashjs';
import { query } from 'leashjs/pg';
import pg from 'pg';
const mode = process.argv[2] ?? 'leash';
const text = process.argv[3] === 'param' ? 'SELECT $1::int + 1 AS n' : 'SELECT 1 AS n';
const vals = process.argv[3] === 'param' ? (i: number) => [i] : () => undefined;
const pool = new pg.Pool({ host: '127.0.0.1', user: 'postgres', database: 'test', max: 20 });
let n = 0; let stop = false;
const t0 = performance.now(); const c0 = process.cpuUsage();
async function worker(w: number) {
  while (!stop) {
    if (mode === 'plain') await pool.query(text, vals(n));
    else { const [ctx, cancel] = withTimeout(background(), 5000); try { await query(ctx, pool, text, vals(n)); } finally { cancel(); } }
    n++;
  }
}
setTimeout(() => { stop = true; }, 5000);
await Promise.all(Array.from({ length: 500 }, (_, i) => worker(i)));
const cpu = process.cpuUsage(c0);
console.log(mode, Math.round(n / ((performance.now() - t0) / 1000)), 'q/s', ((cpu.user + cpu.system) / n).toFixed(1), 'µs/q');
await pool.end();
