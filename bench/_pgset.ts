import pg from 'pg';
const pool = new pg.Pool({ host: '127.0.0.1', user: 'postgres', database: 'test', max: 20 });
async function run(text: string, vals?: () => unknown[]) {
  let n = 0; let stop = false;
  const t0 = performance.now(); const c0 = process.cpuUsage();
  setTimeout(() => { stop = true; }, 2000);
  await Promise.all(Array.from({ length: 500 }, async () => { while (!stop) { await pool.query(text, vals?.()); n++; } }));
  const cpu = process.cpuUsage(c0);
  return [Math.round(n / ((performance.now() - t0) / 1000)), ((cpu.user + cpu.system) / n).toFixed(1)];
}
for (let r = 0; r < 3; r++) {
  console.log('plain', ...(await run('SELECT 1 AS n')), ' set-local', ...(await run('SET LOCAL statement_timeout = 4000;SELECT 1 AS n')),
   ' param', ...(await run('SELECT $1::int + 1 AS n', () => [1])));
}
await pool.end();
