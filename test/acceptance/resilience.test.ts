// Acceptance for leashjs/resilience (issue 12): the promises a Go engineer expects of policies
// written on context, checked through the public entry point, composed as a service would.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  background,
  type Context,
  isDeadlineExceeded,
  sleep,
  withCancel,
  withTimeout,
} from '../../src/context/index.js';
import { childCount, deadlineTimerStats } from '../../src/context/test-support/inspect.js';
import { snapshot, verifyNone } from '../../src/leak/index.js';
import {
  adaptiveLimit,
  bulkhead,
  circuitBreaker,
  constantBackoff,
  fallback,
  hedge,
  type Policy,
  rateLimiter,
  retry,
  retryBudget,
  timeout,
  wrap,
} from '../../src/resilience/index.js';

const bg = background();
const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

function everyPolicy(): [string, Policy][] {
  return [
    ['timeout', timeout(1_000)],
    ['retry', retry({ maxAttempts: 2, backoff: constantBackoff(0), budget: retryBudget() })],
    ['circuitBreaker', circuitBreaker({ failureRate: 1, window: { ms: 1_000 }, minimumCalls: 1_000_000 })],
    ['bulkhead', bulkhead({ limit: 8, queue: 100 })],
    ['rateLimiter', rateLimiter({ rate: 1e9, key: () => 'k' })],
    ['adaptiveLimit', adaptiveLimit({ algorithm: 'gradient2', initial: 1000, max: 1000 })],
    [
      // Its event-loop probe (a setImmediate per interval) is left pending by none of the calls.
      'adaptiveLimit watching the event loop',
      adaptiveLimit({
        algorithm: 'vegas',
        initial: 1000,
        max: 1000,
        eventLoop: true,
        eventLoopIntervalMs: 1,
      }),
    ],
    ['hedge', hedge({ afterMs: 1_000 })],
    ['fallback', fallback(async () => -1)],
    [
      'wrap',
      wrap(
        fallback(async () => -1),
        retry({ maxAttempts: 2, backoff: constantBackoff(0) }),
        circuitBreaker({ failureRate: 1, minimumCalls: 1_000_000 }),
        bulkhead({ limit: 8, queue: 100 }),
        timeout(1_000),
      ),
    ],
    [
      // Permits and outcomes that follow fn through a retry and a hedge (a tracker per call).
      'wrap with limits outside a retry, a hedge and a timeout',
      wrap(
        circuitBreaker({ failureRate: 1, minimumCalls: 1_000_000 }),
        bulkhead({ limit: 8, queue: 100 }),
        adaptiveLimit({ algorithm: 'aimd', initial: 1000, max: 1000 }),
        retry({ maxAttempts: 2, backoff: constantBackoff(0) }),
        hedge({ afterMs: 1_000 }),
        timeout(1_000),
      ),
    ],
  ];
}

// Success, failure and a caller that cancels mid-call, in turn.
async function callMix(p: Policy, parent: Context, i: number): Promise<void> {
  const kind = i % 3;
  if (kind === 0) {
    await p.execute(parent, async () => i);
  } else if (kind === 1) {
    await p
      .execute(parent, async () => {
        throw new Error('down');
      })
      .catch(() => {});
  } else {
    const [ctx, cancel] = withCancel(parent);
    const call = p.execute(ctx, (c) => sleep(c, 60_000)).catch(() => {});
    cancel();
    await call;
  }
}

test('every policy leaves no timer, deadline, link or heap behind after many calls', async () => {
  const calls = Number(process.env.LEASH_RESILIENCE_CALLS ?? 30_000);
  const [parent, cancelParent] = withCancel(bg);
  const deadlinesBefore = deadlineTimerStats().deadlines;
  const timersBefore = timers();
  for (const [name, p] of everyPolicy()) {
    for (let i = 0; i < 300; i++) await callMix(p, parent, i); // warm up
    globalThis.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < calls; i++) await callMix(p, parent, i);
    await new Promise((r) => setImmediate(r));
    globalThis.gc?.();
    const grown = process.memoryUsage().heapUsed - heapBefore;
    assert.equal(childCount(parent), 0, `${name}: no link left on the long-lived context`);
    assert.equal(
      deadlineTimerStats().deadlines,
      deadlinesBefore,
      `${name}: no deadline left in the shared queue`,
    );
    assert.equal(timers(), timersBefore, `${name}: no Node timer left`);
    assert.ok(grown < 2 * 1024 * 1024, `${name}: heap grew ${grown} bytes over ${calls} calls`);
  }
  cancelParent();
});

test('verifyNone finds nothing left by calls through every policy', async () => {
  const policies = everyPolicy();
  const base = snapshot();
  const [parent, cancelParent] = withCancel(bg);
  for (const [, p] of policies) for (let i = 0; i < 60; i++) await callMix(p, parent, i);
  cancelParent();
  await verifyNone({ baseline: base, timeoutMs: 2_000 });
});

test('a storm against a hanging dependency: callers leave at their deadline, the bulkhead holds, caller deadlines never open the breaker', async () => {
  const limit = 4;
  const b = bulkhead({ limit, queue: 50 });
  const breaker = circuitBreaker({ failureRate: 0.5, window: { calls: 10 }, minimumCalls: 5 });
  const policy = wrap(retry({ maxAttempts: 5, backoff: constantBackoff(5) }), breaker, b);
  let running = 0;
  let peak = 0;
  const attemptStarts: { at: number; deadline: number }[] = [];
  const hanging = async (ctx: Context): Promise<void> => {
    attemptStarts.push({ at: Date.now(), deadline: ctx.deadline as number });
    running++;
    peak = Math.max(peak, running);
    try {
      await new Promise((r) => setTimeout(r, 500)); // ignores its context
    } finally {
      running--;
    }
  };
  const lateness: number[] = [];
  let releasedWhileWorkRan = 0;
  await Promise.all(
    Array.from({ length: 40 }, async () => {
      const [ctx, cancel] = withTimeout(bg, 30);
      const deadline = ctx.deadline as number;
      await assert.rejects(
        policy.execute(ctx, hanging),
        (e) => isDeadlineExceeded(e) || /bulkhead/.test(String(e)),
      );
      lateness.push(Date.now() - deadline);
      if (running > 0) releasedWhileWorkRan++;
      cancel();
    }),
  );
  // Released at the deadline, not when the work ends (500 ms later); the bound is loose for busy CI machines.
  assert.ok(
    Math.max(...lateness) < 250,
    `every caller released near its deadline (worst ${Math.max(...lateness)} ms late)`,
  );
  assert.equal(releasedWhileWorkRan, 40, 'every caller left while the abandoned work still ran');
  assert.ok(peak <= limit, `peak ${peak} > limit ${limit}`);
  assert.ok(
    attemptStarts.every((s) => s.at < s.deadline),
    'no attempt started past its deadline',
  );
  assert.equal(b.active, limit, 'the abandoned work holds its permits');
  await sleep(bg, 600);
  assert.equal(b.active, 0);
  assert.equal(breaker.state, 'closed', 'caller deadlines are not failures of the dependency');
});
