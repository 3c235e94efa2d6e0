// chaos() as a Policy: each fault's effect on a call, composition with wrap() and a breaker, the
// caller's deadline releasing a hang, and nothing left behind.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { background, isCanceled, isDeadlineExceeded, withCancel, withTimeout } from 'leashjs';
import { ChaosError, chaos, chaosController } from 'leashjs/chaos';
import { snapshot, verifyNone } from 'leashjs/leak';
import { BrokenCircuitError, circuitBreaker, timeout, wrap } from 'leashjs/resilience';

const ok = async () => 'ok';

test('no fault: the call runs as is; a disabled controller injects nothing', async () => {
  const c = chaosController({ seed: 1, faults: [{ type: 'error', probability: 1 }] });
  c.disable();
  assert.equal(await chaos(c).execute(background(), ok), 'ok');
  assert.equal(await chaos({ faults: [] }).execute(background(), ok), 'ok');
});

test('error: ChaosError (LEASH_ERR_CHAOS) with the status, or the fault’s own error; the call never runs', async () => {
  let ran = 0;
  const fn = async () => {
    ran++;
    return 'ok';
  };
  await assert.rejects(
    chaos({ faults: [{ type: 'error', probability: 1, status: 503, message: 'boom' }] }).execute(
      background(),
      fn,
    ),
    (e: unknown) => {
      assert.ok(e instanceof ChaosError);
      assert.equal(e.code, 'LEASH_ERR_CHAOS');
      assert.equal(e.fault, 'error');
      assert.equal(e.status, 503);
      assert.equal(e.statusCode, 503);
      assert.equal(e.message, 'boom');
      return true;
    },
  );
  const mine = new RangeError('mine');
  await assert.rejects(
    chaos({ faults: [{ type: 'error', probability: 1, error: mine }] }).execute(background(), fn),
    (e) => e === mine,
  );
  let made = 0;
  const p = chaos({ faults: [{ type: 'error', probability: 1, error: () => new Error(`made ${++made}`) }] });
  await assert.rejects(p.execute(background(), fn), /made 1/);
  await assert.rejects(p.execute(background(), fn), /made 2/);
  assert.equal(ran, 0);
});

test('drop: a ChaosError whose cause has code ECONNRESET', async () => {
  await assert.rejects(
    chaos({ faults: [{ type: 'drop', probability: 1 }] }).execute(background(), ok),
    (e: unknown) => {
      assert.ok(e instanceof ChaosError);
      assert.equal(e.fault, 'drop');
      assert.equal((e.cause as { code?: string }).code, 'ECONNRESET');
      return true;
    },
  );
});

test('latency delays the call by ms; the caller cancelling ends the wait with ctx.err and the call never runs', async () => {
  const p = chaos({ faults: [{ type: 'latency', probability: 1, ms: 60 }] });
  const t0 = performance.now();
  assert.equal(await p.execute(background(), ok), 'ok');
  assert.ok(performance.now() - t0 >= 55, `waited ${performance.now() - t0} ms`);

  const long = chaos({ faults: [{ type: 'latency', probability: 1, ms: 10_000 }] });
  const [ctx, cancel] = withCancel(background());
  let ran = false;
  const r = long.execute(ctx, async () => {
    ran = true;
  });
  setTimeout(cancel, 10);
  const t1 = performance.now();
  await assert.rejects(r, (e) => isCanceled(e));
  assert.ok(performance.now() - t1 < 5_000, 'released by the cancel, not by the 10 s latency');
  assert.equal(ran, false);
});

test('hang: the call never runs, and the caller’s deadline releases it with DeadlineExceededError', async () => {
  const p = chaos({ faults: [{ type: 'hang', probability: 1 }] });
  const [ctx, cancel] = withTimeout(background(), 80);
  let ran = false;
  const t0 = performance.now();
  await assert.rejects(
    p.execute(ctx, async () => {
      ran = true;
    }),
    (e) => isDeadlineExceeded(e),
  );
  const took = performance.now() - t0;
  cancel();
  assert.ok(took >= 75 && took < 2_000, `released after ${took} ms`);
  assert.equal(ran, false);
  // A timeout policy around it releases it too (its own deadline).
  await assert.rejects(wrap(timeout(30), p).execute(background(), ok), (e) => isDeadlineExceeded(e));
});

test('cpu burns the event loop for ms, then runs the call', async () => {
  const p = chaos({ faults: [{ type: 'cpu', probability: 1, ms: 40 }] });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const t0 = performance.now();
  const r = p.execute(background(), ok);
  const blocked = performance.now() - t0;
  assert.equal(await r, 'ok');
  clearInterval(timer);
  assert.ok(blocked >= 39, `blocked ${blocked} ms`);
  assert.ok(ticks <= 2, `the loop ran ${ticks} timers during the burn`);
});

test('composes with wrap(): a breaker behind chaos opens on injected errors; in front of it, it sees them first', async () => {
  const c = chaosController({ seed: 7, faults: [{ type: 'error', probability: 1 }] });
  const breaker = circuitBreaker({
    failureRate: 0.5,
    window: { calls: 10 },
    minimumCalls: 5,
    openMs: 60_000,
  });
  const seen: unknown[] = [];
  const policy = wrap(breaker, chaos(c));
  for (let i = 0; i < 8; i++) seen.push(await policy.execute(background(), ok).catch((e: unknown) => e));
  assert.ok(seen.slice(0, 5).every((e) => e instanceof ChaosError));
  assert.ok(seen.at(-1) instanceof BrokenCircuitError, 'the breaker opened on the injected errors');

  const front = wrap(chaos(c), circuitBreaker({ failureRate: 0.5, minimumCalls: 5 }));
  await assert.rejects(front.execute(background(), ok), ChaosError);
  c.disable();
  assert.equal(await front.execute(background(), ok), 'ok');
});

test('a caller whose context ends gets ctx.err at once even when the work ignores it', async () => {
  const [ctx, cancel] = withCancel(background());
  const r = chaos({ faults: [] }).execute(ctx, () => new Promise<never>(() => {}));
  cancel();
  await assert.rejects(r, (e) => isCanceled(e));
  await assert.rejects(chaos({ faults: [] }).execute(ctx, ok), (e) => isCanceled(e), 'already done');
});

test('bad arguments: LEASH_ERR_INVALID_ARG', async () => {
  assert.throws(() => chaos(null as never), { code: 'LEASH_ERR_INVALID_ARG' });
  assert.throws(
    () => chaos({ faults: [{ type: 'hang', probablity: 1 }] } as never),
    /did you mean "probability"/,
  );
  await assert.rejects(chaos({}).execute({} as never, ok), { code: 'LEASH_ERR_INVALID_ARG' });
  await assert.rejects(chaos({}).execute(background(), 'fn' as never), { code: 'LEASH_ERR_INVALID_ARG' });
});

test('thousands of calls through every fault leave nothing behind', async () => {
  const base = snapshot();
  const c = chaosController({
    seed: 99,
    faults: [
      { type: 'latency', probability: 0.2, minMs: 0, maxMs: 2 },
      { type: 'error', probability: 0.2 },
      { type: 'hang', probability: 0.2 },
      { type: 'drop', probability: 0.1 },
      { type: 'cpu', probability: 0.1, ms: 0 },
    ],
  });
  // The timeout releases the hangs; far above the 2 ms latencies, so a loaded machine changes nothing.
  const p = wrap(timeout(1_000), chaos(c));
  const [root, cancelRoot] = withCancel(background());
  const outcomes = await Promise.allSettled(Array.from({ length: 3000 }, () => p.execute(root, ok)));
  cancelRoot();
  const fulfilled = outcomes.filter((o) => o.status === 'fulfilled').length;
  assert.ok(
    fulfilled > 1350 && fulfilled < 1650,
    `${fulfilled} of 3000 ran (half expected: latency, cpu and no fault)`,
  );
  assert.equal(c.toJSON().decisions, 3000);
  await verifyNone({ baseline: base });
});

test('error: a factory that returns no Error fails the call with LEASH_ERR_INVALID_ARG saying so, never with its value', async () => {
  let ran = 0;
  const fn = async () => {
    ran++;
    return 'ok';
  };
  const factories: [() => unknown, RegExp][] = [
    [() => 'str', /returned the string "str"$/],
    [() => undefined, /returned undefined$/],
    [() => ({ code: 'E' }), /returned an object$/],
  ];
  for (const [error, returned] of factories) {
    await assert.rejects(
      chaos({
        name: 'stock',
        faults: [{ type: 'error', probability: 1, error: error as () => Error }],
      }).execute(background(), fn),
      (e: unknown) => {
        assert.ok(e instanceof TypeError);
        assert.equal((e as { code?: string }).code, 'LEASH_ERR_INVALID_ARG');
        assert.match(
          e.message,
          /^stock: the error fault's error\(\) must return the Error to inject \(such as \(\) => new Error\('injected'\)\), but it /,
        );
        assert.match(e.message, returned);
        return true;
      },
    );
  }
  const thrown = new Error('from the factory');
  await assert.rejects(
    chaos({
      name: 'stock',
      faults: [
        {
          type: 'error',
          probability: 1,
          error: () => {
            throw thrown;
          },
        },
      ],
    }).execute(background(), fn),
    (e: unknown) => {
      assert.equal((e as { code?: string }).code, 'LEASH_ERR_INVALID_ARG');
      assert.match(
        (e as Error).message,
        /^stock: the error fault's error\(\) must return the Error to inject .* but it threw an object \(Error\); return it instead$/,
      );
      assert.equal((e as Error).cause, thrown, 'what it threw is kept as the cause');
      return true;
    },
  );
  assert.equal(ran, 0);
});

test('chaos(controller) takes no second argument', () => {
  assert.throws(() => (chaos as (...a: unknown[]) => unknown)(chaosController(), { seed: 1 }), {
    code: 'LEASH_ERR_INVALID_ARG',
    message:
      'chaos(controller): takes one argument, the controller or a spec (it has no options: set faults and target in the spec or with controller.update(patch)); got a second argument: an object',
  });
});
