// A permit belongs to the user's fn: whatever the order of composition, a bulkhead's or an
// adaptive limit's permit is held until every call of fn made under it has settled, even when a
// timeout, a retry or a hedge between them has already answered the caller. The fns here ignore
// their context and settle late, and count themselves.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import fc from 'fast-check';
import {
  background,
  type Context,
  isCanceled,
  isDeadlineExceeded,
  sleep,
  withCancel,
  withTimeout,
} from '../context/index.js';
import {
  adaptiveLimit,
  BulkheadRejectedError,
  bulkhead,
  ConcurrencyLimitError,
  circuitBreaker,
  constantBackoff,
  hedge,
  type Policy,
  retry,
  timeout,
  wrap,
} from './index.js';

interface Counter {
  live: number;
  max: number;
  started: number;
}

// fn ignores its context and settles `ms` later; `c` counts the fns running now and at most.
function lateFn(c: Counter, ms: number): (ctx: Context) => Promise<string> {
  return async () => {
    c.started++;
    c.live++;
    if (c.live > c.max) c.max = c.live;
    try {
      await delay(ms);
      return 'late';
    } finally {
      c.live--;
    }
  };
}

const counter = (): Counter => ({ live: 0, max: 0, started: 0 });

async function until(cond: () => boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await delay(2);
  }
}

const isRejection = (e: unknown): boolean =>
  e instanceof BulkheadRejectedError || e instanceof ConcurrencyLimitError;

// Each case: a composition with a limit of 2 (no queue) around fns that outlive the callers.
interface Case {
  name: string;
  make: () => { policy: Policy; held: () => number };
  // Whether callers are released before their fn settles (a timeout between caller and fn).
  releasedEarly: boolean;
}

function withBulkhead(order: (b: Policy) => Policy[], releasedEarly: boolean, name: string): Case {
  return {
    name: `bulkhead: ${name}`,
    releasedEarly,
    make: () => {
      const b = bulkhead({ limit: 2 });
      return { policy: wrap(...order(b)), held: () => b.active };
    },
  };
}

function withLimit(order: (l: Policy) => Policy[], releasedEarly: boolean, name: string): Case {
  return {
    name: `adaptiveLimit: ${name}`,
    releasedEarly,
    make: () => {
      const l = adaptiveLimit({ algorithm: 'aimd', min: 2, max: 2, initial: 2 });
      return { policy: wrap(...order(l)), held: () => l.inflight };
    },
  };
}

const retryNow = (): Policy => retry({ maxAttempts: 3, backoff: constantBackoff(0) });
const cases: Case[] = [];
for (const [w, name] of [
  [withBulkhead, 'bulkhead'],
  [withLimit, 'adaptiveLimit'],
] as const) {
  void name;
  cases.push(
    w((p) => [p, timeout(15)], true, 'wrap(limit, timeout)'),
    w((p) => [timeout(15), p], true, 'wrap(timeout, limit)'),
    w((p) => [p, retryNow(), timeout(15)], true, 'wrap(limit, retry, timeout)'),
    w((p) => [retryNow(), p, timeout(15)], true, 'wrap(retry, limit, timeout)'),
    w((p) => [timeout(15), retryNow(), p], true, 'wrap(timeout, retry, limit)'),
    w((p) => [p, hedge({ afterMs: 5 })], false, 'wrap(limit, hedge)'),
    w((p) => [p, hedge({ afterMs: 5 }), timeout(15)], true, 'wrap(limit, hedge, timeout)'),
    w((p) => [p, timeout(15), hedge({ afterMs: 5 })], true, 'wrap(limit, timeout, hedge)'),
    w((p) => [timeout(15), p, hedge({ afterMs: 5 })], true, 'wrap(timeout, limit, hedge)'),
  );
}

for (const c of cases) {
  test(`${c.name}: fns running never exceed the limit, abandoned work keeps its permit`, async () => {
    const { policy, held } = c.make();
    const n = counter();
    const fn = lateFn(n, 80);
    const calls = [0, 1].map(() =>
      policy.execute(background(), fn).then(
        (v) => ({ ok: true, v }),
        (e: unknown) => ({ ok: false, v: e }),
      ),
    );
    if (c.releasedEarly) {
      const outcomes = await Promise.all(calls);
      // Every caller was released at its timeout while its fn runs on, or, when a retry made
      // another attempt, refused: the limit is full of abandoned work.
      for (const o of outcomes)
        assert.ok(!o.ok && (isDeadlineExceeded(o.v) || isRejection(o.v)), String(o.v));
      assert.ok(n.live > 0, 'abandoned work still runs');
      // The abandoned work holds the permits: a new call is refused, its fn never started.
      const before = n.started;
      await assert.rejects(policy.execute(background(), fn), isRejection);
      assert.equal(n.started, before);
      assert.ok(held() > 0);
    } else {
      await Promise.all(calls);
    }
    await until(() => n.live === 0);
    await delay(5);
    assert.ok(n.max <= 2, `at most 2 fns at once, saw ${n.max}`);
    assert.equal(held(), 0, 'every permit given back once the work settled');
  });
}

test('a queued call waits for abandoned work to settle before its fn starts (bulkhead outside timeout)', async () => {
  const b = bulkhead({ limit: 1, queue: 1 });
  const policy = wrap(b, timeout(10));
  const n = counter();
  const fn = lateFn(n, 60);
  await assert.rejects(policy.execute(background(), fn), isDeadlineExceeded);
  assert.equal(n.live, 1);
  const [ctx, cancel] = withTimeout(background(), 2_000);
  const second = policy.execute(ctx, lateFn(n, 1));
  await delay(5);
  assert.equal(b.queued, 1, 'the second call waits while the abandoned fn holds the permit');
  assert.equal(n.started, 1);
  // It runs once the abandoned fn has settled and given the permit back.
  assert.equal(await second, 'late');
  assert.equal(n.started, 2);
  cancel();
  await until(() => n.live === 0);
  assert.equal(n.max, 1);
  await until(() => b.active === 0);
});

// The three ways a breaker is told: by the timeout's race, through a retry, through a hedge.
for (const [name, inner] of [
  ['a timeout', () => [timeout(1_000)]],
  ['a retry around a timeout', () => [retry({ maxAttempts: 2 }), timeout(1_000)]],
  ['a hedge and a timeout', () => [hedge({ afterMs: 1_000 }), timeout(1_000)]],
] as const) {
  test(`a breaker outside ${name} records the late outcome of work its caller abandoned`, async () => {
    const br = circuitBreaker({ window: { calls: 2 }, minimumCalls: 2, failureRate: 0.5 });
    const policy = wrap(br, ...inner());
    for (let k = 0; k < 2; k++) {
      const [ctx, cancel] = withTimeout(background(), 5);
      const p = policy.execute(ctx, async () => {
        await delay(30);
        throw new Error('the dependency failed, late');
      });
      await assert.rejects(p, isDeadlineExceeded);
      cancel();
    }
    // The callers' deadlines are theirs, not failures; the work's own late failures are.
    await delay(60);
    assert.equal(br.state, 'open');
  });

  test(`a breaker outside ${name} does not count a late success of abandoned work as a failure`, async () => {
    const br = circuitBreaker({ window: { calls: 2 }, minimumCalls: 2, failureRate: 0.5 });
    const policy = wrap(br, ...inner());
    for (let k = 0; k < 4; k++) {
      const [ctx, cancel] = withTimeout(background(), 5);
      await assert.rejects(
        policy.execute(ctx, async () => {
          await delay(20);
          return 1;
        }),
        (e) => isDeadlineExceeded(e) || isCanceled(e),
      );
      cancel();
    }
    await delay(40);
    assert.equal(br.state, 'closed');
    assert.equal(br.metrics.calls, 2);
  });
}

// The policies a random composition is drawn from, with the bulkhead always in it once.
type Pick =
  | { k: 'timeout'; ms: number }
  | { k: 'retry'; attempts: number; backoffMs: number }
  | { k: 'breaker' }
  | { k: 'hedge'; afterMs: number };

const pickArb: fc.Arbitrary<Pick> = fc.oneof(
  fc.record({ k: fc.constant('timeout' as const), ms: fc.integer({ min: 1, max: 12 }) }),
  fc.record({
    k: fc.constant('retry' as const),
    attempts: fc.integer({ min: 2, max: 3 }),
    backoffMs: fc.integer({ min: 0, max: 3 }),
  }),
  fc.record({ k: fc.constant('breaker' as const) }),
  fc.record({ k: fc.constant('hedge' as const), afterMs: fc.integer({ min: 0, max: 6 }) }),
);

function build(p: Pick): Policy {
  switch (p.k) {
    case 'timeout':
      return timeout(p.ms);
    case 'retry':
      return retry({ maxAttempts: p.attempts, backoff: constantBackoff(p.backoffMs) });
    case 'breaker':
      return circuitBreaker();
    case 'hedge':
      return hedge({ afterMs: p.afterMs });
  }
}

test('property: over random compositions of timeout, retry, bulkhead, breaker and hedge, fns in flight never exceed the limit', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(pickArb, { maxLength: 4 }),
      fc.nat(4),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 2 }),
      fc.array(
        fc.record({ workMs: fc.integer({ min: 0, max: 25 }), callerMs: fc.integer({ min: 1, max: 40 }) }),
        {
          minLength: 1,
          maxLength: 6,
        },
      ),
      async (picks, at, limit, queue, calls) => {
        const b = bulkhead({ limit, queue });
        const list = picks.map(build);
        list.splice(Math.min(at, list.length), 0, b);
        const policy = wrap(...list);
        const n = counter();
        const settled = calls.map(({ workMs, callerMs }) => {
          const [ctx, cancel] = withTimeout(background(), callerMs);
          return policy.execute(ctx, lateFn(n, workMs)).then(cancel, cancel);
        });
        await Promise.all(settled);
        await until(() => n.live === 0 && b.active === 0 && b.queued === 0);
        assert.ok(n.max <= limit, `${n.max} fns at once through a bulkhead of ${limit}`);
      },
    ),
    { numRuns: 60 },
  );
});

test('a retry inside a bulkhead queues its next attempt behind its own abandoned one, without deadlock', async () => {
  const b = bulkhead({ limit: 1, queue: 1 });
  const policy = wrap(b, retry({ maxAttempts: 2, backoff: constantBackoff(0) }), timeout(10));
  const n = counter();
  let calls = 0;
  const fn = async (ctx: Context): Promise<string> => {
    calls++;
    if (calls === 1) return lateFn(n, 16)(ctx);
    return 'second';
  };
  const [ctx, cancel] = withTimeout(background(), 2_000);
  const t0 = performance.now();
  assert.equal(await policy.execute(ctx, fn), 'second');
  // The second attempt waited in the queue for the first (abandoned at 10 ms) to settle at 16 ms.
  assert.ok(performance.now() - t0 >= 15, 'the second attempt ran only after the first settled');
  cancel();
  await until(() => n.live === 0 && b.active === 0);
  assert.equal(n.max, 1);
});

const bg = background();

// A half-open breaker's probe slot is a permit too: a probe whose caller left keeps its slot until
// its work settles, and that work's own outcome decides, in every composition with a timeout.
const probeShapes: [string, (b: ReturnType<typeof circuitBreaker>) => Policy][] = [
  ['the breaker alone', (b) => b],
  ['wrap(breaker, timeout)', (b) => wrap(b, timeout(10_000))],
  ['wrap(timeout, breaker)', (b) => wrap(timeout(10_000), b)],
];
/** readyToProbe opens a breaker of one probe through `make`'s composition and waits until it lets the probe through. */
async function readyToProbe(make: (b: ReturnType<typeof circuitBreaker>) => Policy) {
  const breaker = circuitBreaker({
    failureRate: 0.5,
    minimumCalls: 1,
    window: { calls: 1 },
    openMs: 20,
    halfOpenCalls: 1,
  });
  const p = make(breaker);
  await assert.rejects(
    p.execute(bg, () => Promise.reject(new Error('down'))),
    /down/,
  );
  assert.equal(breaker.state, 'open');
  await delay(30);
  return { breaker, p };
}
for (const [shape, make] of probeShapes) {
  test(`${shape}: a half-open probe whose caller left keeps its slot; its late failure reopens the breaker`, async () => {
    const { breaker, p } = await readyToProbe(make);
    let fail!: () => void;
    const [ctx, cancel] = withCancel(bg);
    const probe = p.execute(ctx, () => new Promise((_, reject) => (fail = () => reject(new Error('late')))));
    cancel();
    await assert.rejects(probe, (e) => isCanceled(e));
    assert.equal(breaker.state, 'half-open');
    await assert.rejects(
      p.execute(bg, async () => 'second'),
      { code: 'LEASH_ERR_CIRCUIT_OPEN' },
      'the slot is still taken',
    );
    fail();
    await delay(5);
    assert.equal(breaker.state, 'open', 'the probe work failed: the breaker opens again');
  });

  test(`${shape}: a half-open probe that obeys its caller's cancellation gives its slot back, and is not a failure`, async () => {
    const { breaker, p } = await readyToProbe(make);
    const [ctx, cancel] = withCancel(bg);
    const probe = p.execute(ctx, (c) => sleep(c, 60_000));
    cancel();
    await assert.rejects(probe, (e) => isCanceled(e));
    await delay(1);
    assert.equal(breaker.state, 'half-open');
    assert.equal(await p.execute(bg, async () => 'probe'), 'probe');
    assert.equal(breaker.state, 'closed');
  });
}
