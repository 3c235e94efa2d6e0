import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { background, withTimeout } from 'leashjs';
import { query } from 'leashjs/pg';
import pg from 'pg';
const mode = process.argv[2] ?? 'leash';
const param = process.argv[3] === 'param';
const text = param ? 'SELECT $1::int + 1 AS n' : 'SELECT 1 AS n';
const pool = new pg.Pool({ host: '127.0.0.1', user: 'postgres', database: 'test', max: 20 });
let n = 0; let stop = false;
const ops = {
  plain: (i) => pool.query(text, param ? [i] : undefined),
  bg: (i) => query(background(), pool, text, param ? [i] : undefined),
  leash: async (i) => { const [ctx, cancel] = withTimeout(background(), 5000); try { return await query(ctx, pool, text, param ? [i] : undefined); } finally { cancel(); } },
};
const op = ops[mode];
async function worker() { while (!stop) { await op(n); n++; } }
const all = Promise.all(Array.from({ length: 500 }, worker));
await new Promise((r) => setTimeout(r, 1500));
const s = new Session(); s.connect(); await s.post('HeapProfiler.enable'); await s.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: process.env.ALL === '1', includeObjectsCollectedByMinorGC: process.env.ALL === '1' });
const n0 = n; const c0 = process.cpuUsage(); const t0 = performance.now();
await new Promise((r) => setTimeout(r, 4000));
const { profile } = await s.post('HeapProfiler.stopSampling');
const cpu = process.cpuUsage(c0); const q = n - n0;
stop = true; await all; await pool.end();
writeFileSync(`/tmp/prof/heap-${process.env.ALL}-${mode}${param ? '-param' : ''}.json`, JSON.stringify({ profile, q }));
console.log(mode, Math.round(q / ((performance.now() - t0) / 1000)), 'q/s', ((cpu.user + cpu.system) / q).toFixed(1), 'µs CPU/q');
