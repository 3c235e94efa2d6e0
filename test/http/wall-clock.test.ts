// Budgets in leashjs/http run on the monotonic clock: a step of the wall clock (NTP, a VM resumed)
// changes neither the x-request-timeout leash's fetch sends, nor a request's remaining budget, nor
// when its 504 goes out. Date.now is overridden in a child process, so nothing else is disturbed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

function run(stepMs: number): {
  sent: number;
  inHandler: { remaining: number; forwarded: number };
  status: number;
  timedOutAfter: number;
} {
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', new URL('./fixtures/wall-clock-step.ts', import.meta.url).pathname, String(stepMs)],
    { encoding: 'utf8', timeout: 30_000 },
  );
  return JSON.parse(out.trim().split('\n').pop() as string);
}

for (const [label, step] of [
  ['forward one hour', 3_600_000],
  ['back ten seconds', -10_000],
] as const) {
  test(`wall clock stepped ${label}: fetch's header, remaining(req.ctx) and the 504 are unchanged`, () => {
    const r = run(step);
    assert.ok(r.sent > 4000 && r.sent <= 5000, `fetch sent x-request-timeout ${r.sent} for a 5000 ms budget`);
    assert.ok(
      r.inHandler.remaining > 0 && r.inHandler.remaining <= 600,
      `remaining ${r.inHandler.remaining} of a 600 ms request`,
    );
    assert.ok(
      r.inHandler.forwarded > 0 && r.inHandler.forwarded <= 600,
      `forwarded x-request-timeout ${r.inHandler.forwarded}`,
    );
    assert.equal(r.status, 504);
    assert.ok(r.timedOutAfter >= 550 && r.timedOutAfter < 3000, `504 after ${r.timedOutAfter.toFixed(0)} ms`);
  });
}
