// End to end: a real process running serve() under signalContext drains on SIGTERM and then exits
// by itself, which proves nothing (socket, timer, listener) was left keeping it alive.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { get, within } from './apps.js';

test('SIGTERM drains in-flight requests, cancels slow ones at the drain deadline, and the process exits 0', async () => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('./fixtures/sigterm-server.ts', import.meta.url).pathname],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const first = await within(lines.next(), 15_000, 'the server to start');
    const { port } = JSON.parse(first.value as string) as { port: number };
    const url = `http://127.0.0.1:${port}`;
    const inflight = get(`${url}/work`);
    const slow = get(`${url}/slow`).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    child.kill('SIGTERM');
    const res = await within(inflight, 5_000, 'the in-flight request');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'done');
    const slowResult = await within(slow, 5_000, 'the slow request');
    if (!(slowResult instanceof Error)) assert.equal(slowResult.status, 503);
    const report = JSON.parse((await within(lines.next(), 5_000, 'the report')).value as string);
    assert.deepEqual(report, { inFlight: 2, canceled: 1, refused: 0 });
    assert.equal(await within(exited, 5_000, 'the process to exit by itself'), 0);
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 900 && elapsed < 4_000, `shutdown took ${elapsed.toFixed(0)} ms`);
  } finally {
    child.kill('SIGKILL');
  }
});
