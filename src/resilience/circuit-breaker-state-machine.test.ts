// More of resilience4j's CircuitBreakerStateMachineTest, ported: half-open with N probes, the
// forced-open and disabled states and the transitions between them, slow-call thresholds in
// half-open, minimumCalls capped at the window, the count window sliding, and the transition events.
import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { test } from 'node:test';
import { background, sleep } from '../context/index.js';
import { type BreakerStateChangeEvent, BrokenCircuitError, type CircuitBreaker } from './index.js';
import { boom, breakerMaker, fail, ok } from './test-support/breaker.js';

const bg = background();
const make = breakerMaker({ halfOpenCalls: 4, openMs: 20 });

async function openIt(b: CircuitBreaker): Promise<void> {
  for (let i = 0; i < 5; i++) await fail(b);
  assert.equal(b.state, 'open');
}

// Records the transitions of the breakers named `name` while `body` runs.
async function transitions(name: string, body: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const onMsg = (m: unknown): void => {
    const e = m as BreakerStateChangeEvent;
    if (e.name === name) seen.push(`${e.from}->${e.to}`);
  };
  diagnostics_channel.subscribe('leash:resilience:breaker:state-change', onMsg);
  try {
    await body();
  } finally {
    diagnostics_channel.unsubscribe('leash:resilience:breaker:state-change', onMsg);
  }
  return seen;
}

test('half-open decides only once all N probes have completed', async () => {
  const b = make();
  await openIt(b);
  await sleep(bg, 25);
  for (let i = 0; i < 3; i++) {
    await ok(b);
    assert.equal(b.state, 'half-open', `${i + 1} of 4 probes: not decided yet`);
    assert.equal(b.metrics.calls, i + 1, 'metrics read the probes while half-open');
  }
  await ok(b);
  assert.equal(b.state, 'closed');
});

test('half-open: probes that succeed under the failure threshold close it (1 of 4 failed < 50%)', async () => {
  const b = make();
  await openIt(b);
  await sleep(bg, 25);
  await fail(b);
  await ok(b);
  await ok(b);
  await ok(b);
  assert.equal(b.state, 'closed');
});

test('half-open: slow probes at the slow-call threshold open it again', async () => {
  const b = make({ slowCallMs: 8, slowCallRate: 0.5 });
  await openIt(b);
  await sleep(bg, 25);
  await ok(b);
  await ok(b);
  await b.execute(bg, () => sleep(bg, 10));
  assert.equal(b.state, 'half-open');
  await b.execute(bg, () => sleep(bg, 10));
  assert.equal(b.state, 'open', '2 of 4 probes were slow');
  const e = await ok(b).catch((x) => x);
  assert.ok(e instanceof BrokenCircuitError && e.state === 'open');
});

test('forced-open from every state; reset from forced-open closes with an empty window', async () => {
  for (const to of ['closed', 'open', 'half-open', 'disabled'] as const) {
    const b = make();
    await ok(b);
    if (to !== 'closed') await openIt(b);
    if (to === 'half-open') {
      await sleep(bg, 25);
      await ok(b);
      assert.equal(b.state, 'half-open');
    }
    if (to === 'disabled') b.disable();
    b.forceOpen();
    assert.equal(b.state, 'forced-open', `from ${to}`);
    let called = false;
    const e = await b
      .execute(bg, async () => {
        called = true;
      })
      .catch((x) => x);
    assert.ok(e instanceof BrokenCircuitError && e.state === 'forced-open');
    assert.equal(called, false, 'fn is not called while forced open');
    b.reset();
    assert.equal(b.state, 'closed');
    assert.equal(b.metrics.calls, 0, `the window is empty after reset (from ${to})`);
  }
});

test('disabled: nothing is recorded, nothing opens it, and an outcome from before is not recorded', async () => {
  const b = make();
  let finish!: (e: unknown) => void;
  const pending = b.execute(bg, () => new Promise((_r, reject) => (finish = reject))).catch((e) => e);
  b.disable();
  for (let i = 0; i < 20; i++) await fail(b);
  finish(boom);
  assert.equal(await pending, boom);
  assert.equal(b.state, 'disabled');
  b.reset();
  assert.equal(b.metrics.calls, 0, 'neither the disabled calls nor the earlier one are in the window');
});

test('minimumCalls larger than a count window is capped at the window', async () => {
  const b = make({ minimumCalls: 100 });
  for (let i = 0; i < 4; i++) await fail(b);
  assert.equal(b.state, 'closed');
  await fail(b);
  assert.equal(b.state, 'open', 'five calls fill a window of five');
});

test('the count window slides: only the last N calls are judged', async () => {
  const b = make({ window: { calls: 4 }, minimumCalls: 4 });
  for (let i = 0; i < 4; i++) await ok(b);
  await fail(b);
  assert.equal(b.metrics.failedCalls, 1);
  assert.equal(b.metrics.calls, 4, 'the oldest success left the window');
  assert.equal(b.state, 'closed', '1 of 4');
  await fail(b);
  assert.equal(b.state, 'open', '2 of the last 4 failed');
});

test('transition events for forced-open, disabled and reset, in order, each once', async () => {
  const seen = await transitions('sm', async () => {
    const b = make({ name: 'sm' });
    b.forceOpen();
    b.forceOpen();
    b.disable();
    b.reset();
    await openIt(b);
    b.reset();
  });
  assert.deepEqual(seen, [
    'closed->forced-open',
    'forced-open->disabled',
    'disabled->closed',
    'closed->open',
    'open->closed',
  ]);
});

test('half-open -> open publishes the probe rates that decided it', async () => {
  const events: BreakerStateChangeEvent[] = [];
  const onMsg = (m: unknown): void => {
    if ((m as BreakerStateChangeEvent).name === 'rates') events.push(m as BreakerStateChangeEvent);
  };
  diagnostics_channel.subscribe('leash:resilience:breaker:state-change', onMsg);
  try {
    const b = make({ name: 'rates' });
    await openIt(b);
    await sleep(bg, 25);
    await ok(b);
    for (let i = 0; i < 3; i++) await fail(b);
  } finally {
    diagnostics_channel.unsubscribe('leash:resilience:breaker:state-change', onMsg);
  }
  const last = events.at(-1) as BreakerStateChangeEvent;
  assert.equal(`${last.from}->${last.to}`, 'half-open->open');
  assert.equal(last.failureRate, 3 / 4);
  assert.equal(last.slowCallRate, 0);
});
