// Ports the cases of resilience4j's CircuitBreakerStateMachineTest that apply to a context-aware
// breaker, plus the context rules (a caller's cancellation is never a failure).
import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { test } from 'node:test';
import { background, sleep, withCancel, withTimeout } from '../context/index.js';
import { type BreakerStateChangeEvent, BrokenCircuitError, circuitBreaker, timeout, wrap } from './index.js';
import { boom, breakerMaker, fail, ok } from './test-support/breaker.js';

const bg = background();
const make = breakerMaker({ halfOpenCalls: 3, openMs: 30 });
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('closed: stays closed below minimumCalls, opens when the failure rate reaches the threshold', async () => {
  const b = make();
  for (let i = 0; i < 4; i++) await fail(b);
  assert.equal(b.state, 'closed', 'four calls are not enough to judge');
  assert.ok(Number.isNaN(b.metrics.failureRate));
  await ok(b);
  assert.equal(b.state, 'open', '4 of 5 failed >= 50%');
  assert.equal(b.metrics.failedCalls, 4);
});

test('closed: a failure rate under the threshold keeps it closed', async () => {
  const b = make();
  for (const f of [fail, ok, ok, fail, ok, ok, ok]) await f(b);
  assert.equal(b.state, 'closed');
  assert.equal(b.metrics.failureRate, 1 / 5);
});

test('open: rejects every call at once with one shared BrokenCircuitError, without calling fn', async () => {
  const b = make();
  for (let i = 0; i < 5; i++) await fail(b);
  let called = 0;
  const errors = await Promise.all(
    [1, 2, 3].map(() =>
      b
        .execute(bg, async () => {
          called++;
        })
        .catch((e) => e),
    ),
  );
  assert.equal(called, 0);
  const [e] = errors;
  assert.ok(e instanceof BrokenCircuitError);
  assert.equal(e.code, 'LEASH_ERR_CIRCUIT_OPEN');
  assert.equal(e.state, 'open');
  assert.equal(e.retryAfterMs, 30);
  assert.ok(
    errors.every((x) => x === e),
    'the open path allocates no error per call',
  );
});

test('open -> half-open after openMs; only halfOpenCalls probes are let through', async () => {
  const b = make();
  for (let i = 0; i < 5; i++) await fail(b);
  await sleep(bg, 35);
  assert.equal(b.state, 'open', 'the transition happens on the next call');
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const probes = [1, 2, 3].map(() => b.execute(bg, () => held));
  assert.equal(b.state, 'half-open');
  const extra = await b.execute(bg, async () => 1).catch((e) => e);
  assert.ok(extra instanceof BrokenCircuitError && extra.state === 'half-open');
  release();
  await Promise.all(probes);
  assert.equal(b.state, 'closed', 'three successful probes close it');
  assert.equal(b.metrics.calls, 0, 'closing starts a fresh window');
});

test('half-open -> open when the probes fail at the threshold rate', async () => {
  const b = make();
  for (let i = 0; i < 5; i++) await fail(b);
  await sleep(bg, 35);
  await ok(b);
  await fail(b);
  assert.equal(b.state, 'half-open');
  await fail(b);
  assert.equal(b.state, 'open', '2 of 3 probes failed');
  assert.ok((await ok(b).catch((e) => e)) instanceof BrokenCircuitError);
});

test('slow calls open the breaker when the slow-call rate reaches slowCallRate', async () => {
  const b = make({ slowCallMs: 10, slowCallRate: 0.6 });
  await ok(b);
  await ok(b);
  for (let i = 0; i < 3; i++) await b.execute(bg, () => sleep(bg, 12));
  assert.equal(b.state, 'open', '3 of 5 calls took >= 10 ms');
  assert.equal(b.metrics.slowCalls, 3);
  assert.equal(b.metrics.failedCalls, 0);
});

test('forceOpen rejects until reset; disable lets everything through and records nothing', async () => {
  const b = make();
  b.forceOpen();
  const e = await ok(b).catch((x) => x);
  assert.ok(e instanceof BrokenCircuitError && e.state === 'forced-open' && e.retryAfterMs === Infinity);
  await sleep(bg, 35);
  assert.equal(b.state, 'forced-open', 'no timed transition out of forced-open');
  b.disable();
  for (let i = 0; i < 10; i++) await fail(b);
  assert.equal(b.state, 'disabled');
  assert.equal(await ok(b), 'ok');
  b.reset();
  assert.equal(b.state, 'closed');
  assert.equal(b.metrics.calls, 0);
});

test("a caller's cancellation or deadline is never a failure", async () => {
  const b = make({ window: { calls: 3 }, minimumCalls: 3 });
  for (let i = 0; i < 10; i++) {
    const [ctx, cancel] = withCancel(bg);
    const p = b.execute(ctx, (c) => sleep(c, 1_000));
    cancel();
    await assert.rejects(p, (e) => e === ctx.err);
    const [dctx] = withTimeout(bg, 1);
    await assert.rejects(b.execute(dctx, (c) => sleep(c, 1_000)));
  }
  await tick();
  assert.equal(b.state, 'closed');
  assert.equal(b.metrics.calls, 0, 'nothing recorded');
});

test("a timeout policy's own deadline is a failure, wherever it sits in the wrap", async () => {
  for (const order of ['breaker-outside', 'timeout-outside']) {
    const b = make({ window: { calls: 3 }, minimumCalls: 3 });
    const policy = order === 'breaker-outside' ? wrap(b, timeout(5)) : wrap(timeout(5), b);
    for (let i = 0; i < 3; i++) await assert.rejects(policy.execute(bg, (c) => sleep(c, 1_000)));
    await tick();
    assert.equal(b.state, 'open', order);
  }
});

test('work that settles after its caller left is still recorded by its own outcome', async () => {
  const b = make({ window: { calls: 2 }, minimumCalls: 2 });
  for (let i = 0; i < 2; i++) {
    const [ctx, cancel] = withCancel(bg);
    const p = b.execute(ctx, async () => {
      await sleep(bg, 5); // ignores its context
      throw boom;
    });
    cancel();
    await assert.rejects(p, (e) => e === ctx.err);
  }
  await sleep(bg, 15);
  assert.equal(b.state, 'open');
});

test('an ignored probe gives its permit back; isFailure false counts as a success', async () => {
  const b = make({ isFailure: (e) => e !== boom });
  for (let i = 0; i < 5; i++) await fail(b);
  assert.equal(b.state, 'closed', 'boom is not a failure');
  assert.equal(b.metrics.calls, 5);
  const c = make({ halfOpenCalls: 1 });
  for (let i = 0; i < 5; i++) await fail(c);
  await sleep(bg, 35);
  const [ctx, cancel] = withCancel(bg);
  const probe = c.execute(ctx, (x) => sleep(x, 1_000));
  cancel();
  await assert.rejects(probe);
  await tick();
  assert.equal(c.state, 'half-open');
  assert.equal(await ok(c), 'ok', 'the cancelled probe released its permit');
  assert.equal(c.state, 'closed');
});

test('an outcome from an earlier state is not recorded', async () => {
  const b = make();
  let release!: () => void;
  const slow = b.execute(bg, () => new Promise<void>((r) => (release = r)));
  for (let i = 0; i < 5; i++) await fail(b);
  assert.equal(b.state, 'open');
  await sleep(bg, 35);
  await ok(b); // half-open, 1 of 3 probes
  release();
  await slow;
  await tick();
  assert.equal(b.metrics.calls, 1, 'the call started while closed did not count as a probe');
});

test('a time window opens on the calls of the last ms only', async () => {
  const b = circuitBreaker({ window: { ms: 40, buckets: 4 }, minimumCalls: 3, openMs: 1_000 });
  await fail(b);
  await fail(b);
  await sleep(bg, 60);
  await fail(b);
  assert.equal(b.state, 'closed', 'the first two failures aged out');
  await fail(b);
  await fail(b);
  assert.equal(b.state, 'open');
});

test('toJSON hydrates a new breaker: open stays open until the same moment', async () => {
  const b = make({ openMs: 1_000 });
  for (let i = 0; i < 5; i++) await fail(b);
  const json = JSON.parse(JSON.stringify(b));
  assert.equal(json.state, 'open');
  const copy = make({ openMs: 1_000, initialState: json });
  assert.equal(copy.state, 'open');
  const e = await ok(copy).catch((x) => x);
  assert.ok(e instanceof BrokenCircuitError);
  assert.ok(e.retryAfterMs <= 1_000 && e.retryAfterMs > 900);
  const closed = make();
  await fail(closed);
  await fail(closed);
  const c2 = make({ initialState: closed.toJSON() });
  assert.equal(c2.metrics.calls, 2);
  await fail(c2);
  await fail(c2);
  await ok(c2);
  assert.equal(c2.state, 'open', 'the hydrated window counts');
});

test('state changes are published as frozen events', async () => {
  const seen: BreakerStateChangeEvent[] = [];
  const onMsg = (m: unknown): void => {
    if ((m as BreakerStateChangeEvent).name === 'payments') seen.push(m as BreakerStateChangeEvent);
  };
  diagnostics_channel.subscribe('leash:resilience:breaker:state-change', onMsg);
  try {
    const b = make({ name: 'payments' });
    for (let i = 0; i < 5; i++) await fail(b);
    await sleep(bg, 35);
    for (let i = 0; i < 3; i++) await ok(b);
  } finally {
    diagnostics_channel.unsubscribe('leash:resilience:breaker:state-change', onMsg);
  }
  assert.deepEqual(
    seen.map((e) => `${e.from}->${e.to}`),
    ['closed->open', 'open->half-open', 'half-open->closed'],
  );
  assert.equal(seen[0]?.failureRate, 1);
  assert.ok(seen.every((e) => Object.isFrozen(e)));
});

test('circuitBreaker options are validated when it is made', () => {
  const bad: unknown[] = [
    { failureRate: 0 },
    { failureRate: 50 },
    { window: { calls: 0 } },
    { window: { calls: 5, ms: 100 } },
    { window: {} },
    { minimumCalls: 0 },
    { halfOpenCalls: 1.5 },
    { openMs: -1 },
    { isFailure: 'yes' },
    { initialState: { state: 'ajar', window: {} } },
    42,
  ];
  for (const o of bad) {
    assert.throws(
      () => circuitBreaker(o as never),
      { name: 'TypeError', code: 'LEASH_ERR_INVALID_ARG' },
      JSON.stringify(o),
    );
  }
  assert.throws(() => circuitBreaker({ failureRatio: 0.5 } as never), /did you mean "failureRate"/);
});
