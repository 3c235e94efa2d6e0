// The controller: seeded decisions reproducible across runs, strict specs, run-time switching,
// frozen events, and the observed fault rate matching the configured probability.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import diagnostics_channel from 'node:diagnostics_channel';
import { test } from 'node:test';
import fc from 'fast-check';
import { background, type Context, createKey, withValue } from 'leashjs';
import { type ChaosInjectedEvent, type ChaosSpec, chaosController, mulberry32 } from 'leashjs/chaos';

const mixed: ChaosSpec = {
  seed: 42,
  faults: [
    { type: 'latency', probability: 0.2, minMs: 10, maxMs: 50 },
    { type: 'error', probability: 0.1, status: 503 },
    { type: 'hang', probability: 0.05 },
    { type: 'drop', probability: 0.05 },
    { type: 'cpu', probability: 0.05, ms: 1 },
  ],
};

function sequence(spec: ChaosSpec, n: number): string[] {
  const c = chaosController(spec);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const d = c.decide(background());
    out.push(d === undefined ? '-' : `${d.fault}${d.ms === undefined ? '' : `:${d.ms.toFixed(6)}`}`);
  }
  return out;
}

function invalid(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TypeError);
    assert.equal((e as { code?: string }).code, 'LEASH_ERR_INVALID_ARG');
    assert.match(e.message, message);
    return true;
  });
}

test('mulberry32: the same seed gives the same numbers, in [0, 1), and another seed others', () => {
  const a = mulberry32(7);
  const b = mulberry32(7);
  const c = mulberry32(8);
  const xs = Array.from({ length: 1000 }, () => a());
  assert.deepEqual(
    Array.from({ length: 1000 }, () => b()),
    xs,
  );
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.notDeepEqual(
    Array.from({ length: 1000 }, () => c()),
    xs,
  );
  // Pinned: the sequence is part of the contract (a seed printed today replays next year).
  assert.equal(mulberry32(42)().toFixed(10), '0.6011037519');
});

test('same seed -> identical decisions, here and in a fresh process; another seed differs', () => {
  const here = sequence(mixed, 2000);
  assert.deepEqual(sequence(mixed, 2000), here);
  assert.notDeepEqual(sequence({ ...mixed, seed: 43 }, 2000), here);
  for (const kind of ['latency', 'error', 'hang', 'drop', 'cpu', '-']) {
    assert.ok(
      here.some((d) => d.startsWith(kind)),
      `${kind} drawn at least once in 2000`,
    );
  }
  // A second process: nothing in the decision depends on the process (time, Math.random, pid).
  const script = `
    import { background } from 'leashjs';
    import { chaosController } from 'leashjs/chaos';
    const c = chaosController(${JSON.stringify(mixed)});
    const out = [];
    for (let i = 0; i < 2000; i++) {
      const d = c.decide(background());
      out.push(d === undefined ? '-' : d.fault + (d.ms === undefined ? '' : ':' + d.ms.toFixed(6)));
    }
    console.log(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), here);
});

test('update({ seed }) restarts the sequence and the counters; a patch without seed continues it', () => {
  const c = chaosController(mixed);
  const first = Array.from({ length: 50 }, () => c.decide(background())?.fault);
  assert.equal(c.toJSON().decisions, 50);
  c.update({ seed: 42 });
  assert.equal(c.toJSON().decisions, 0);
  assert.deepEqual(
    Array.from({ length: 50 }, () => c.decide(background())?.fault),
    first,
  );
  const ref = chaosController(mixed);
  for (let i = 0; i < 50; i++) ref.decide(background());
  c.update({ name: 'renamed' });
  assert.equal(c.decide(background())?.fault, ref.decide(background())?.fault);
  assert.equal(c.toJSON().decisions, 51);
});

test('disable() injects nothing and draws nothing; enable() resumes the same sequence', () => {
  const c = chaosController({ seed: 1, faults: [{ type: 'error', probability: 0.5 }] });
  const ref = chaosController({ seed: 1, faults: [{ type: 'error', probability: 0.5 }] });
  c.disable();
  assert.equal(c.enabled, false);
  for (let i = 0; i < 100; i++) assert.equal(c.decide(background()), undefined);
  c.enable();
  c.enable();
  for (let i = 0; i < 100; i++) assert.equal(c.decide(background())?.fault, ref.decide(background())?.fault);
  assert.equal(
    chaosController({ enabled: false, faults: [{ type: 'hang', probability: 1 }] }).decide(background()),
    undefined,
  );
});

test('blast radius: header, key and keys, fraction', () => {
  const always = [{ type: 'error' as const, probability: 1 }];
  const byHeader = chaosController({ seed: 3, target: { header: 'X-Leash-Chaos' }, faults: always });
  assert.equal(byHeader.decide(background()), undefined, 'no headers');
  assert.equal(byHeader.decide(background(), {}), undefined);
  assert.equal(byHeader.decide(background(), { 'x-leash-chaos': 'off' }), undefined);
  assert.equal(byHeader.decide(background(), new Headers({ 'x-leash-chaos': '0' })), undefined);
  assert.equal(byHeader.decide(background(), { 'x-leash-chaos': '1' })?.fault, 'error');
  assert.equal(byHeader.decide(background(), new Headers({ 'X-Leash-Chaos': 'yes' }))?.fault, 'error');
  assert.equal(byHeader.toJSON().decisions, 2, 'calls outside the radius draw nothing');

  const tenant = createKey<string>('tenant');
  const ctxOf = (t: string): Context => withValue(background(), tenant, t);
  const byKey = chaosController({
    seed: 3,
    target: { key: (ctx) => ctx.value(tenant), keys: ['canary'] },
    faults: always,
  });
  assert.equal(byKey.decide(background()), undefined, 'no key');
  assert.equal(byKey.decide(ctxOf('main')), undefined);
  assert.equal(byKey.decide(ctxOf('canary'))?.fault, 'error');
  byKey.update({ target: { keys: null } });
  assert.equal(byKey.decide(ctxOf('main'))?.fault, 'error', 'any key once keys is removed');
  byKey.update({ target: { key: true, keys: ['x'] } });
  assert.equal(byKey.decide(ctxOf('main')), undefined, 'key: true kept the function');
  assert.equal(byKey.toJSON().target.key, true);

  const fraction = chaosController({ seed: 9, target: { fraction: 0.25 }, faults: always });
  let hit = 0;
  for (let i = 0; i < 20_000; i++) if (fraction.decide(background())) hit++;
  assert.ok(Math.abs(hit / 20_000 - 0.25) < 0.02, `fraction 0.25 observed ${hit / 20_000}`);
});

test('latency draws: fixed, uniform within [minMs, maxMs], exponential around meanMs', () => {
  const fixed = chaosController({ seed: 5, faults: [{ type: 'latency', probability: 1, ms: 12 }] });
  assert.equal(fixed.decide(background())?.ms, 12);
  const uniform = chaosController({
    seed: 5,
    faults: [{ type: 'latency', probability: 1, minMs: 10, maxMs: 20 }],
  });
  const us = Array.from({ length: 5000 }, () => uniform.decide(background())?.ms as number);
  assert.ok(us.every((m) => m >= 10 && m <= 20));
  assert.ok(Math.abs(us.reduce((a, b) => a + b, 0) / us.length - 15) < 0.3);
  const expo = chaosController({ seed: 5, faults: [{ type: 'latency', probability: 1, meanMs: 40 }] });
  const es = Array.from({ length: 20_000 }, () => expo.decide(background())?.ms as number);
  assert.ok(es.every((m) => m >= 0 && m <= 4000));
  const mean = es.reduce((a, b) => a + b, 0) / es.length;
  assert.ok(Math.abs(mean - 40) < 2, `exponential mean ${mean}`);
});

test('property: over N seeded decisions the observed rate of each fault is within tolerance of its probability', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 4 }),
      (seed, raw) => {
        // Scale the probabilities so they add up to at most 1.
        const total = raw.reduce((a, b) => a + b, 0);
        const ps = raw.map((p) => (total > 1 ? p / total : p) * 0.999);
        const types = ['error', 'hang', 'drop', 'cpu'] as const;
        const c = chaosController({
          seed,
          faults: ps.map((probability, i) =>
            types[i] === 'cpu'
              ? { type: 'cpu' as const, probability, ms: 0 }
              : { type: types[i] as 'error', probability },
          ),
        });
        const n = 20_000;
        const counts = new Map<string, number>();
        for (let i = 0; i < n; i++) {
          const d = c.decide(background());
          if (d) counts.set(d.fault, (counts.get(d.fault) ?? 0) + 1);
        }
        ps.forEach((p, i) => {
          const observed = (counts.get(types[i] as string) ?? 0) / n;
          // Five standard deviations of a binomial proportion, plus a floor for p near 0 or 1.
          const tolerance = 5 * Math.sqrt((p * (1 - p)) / n) + 0.002;
          assert.ok(
            Math.abs(observed - p) <= tolerance,
            `seed ${seed}: ${types[i]} p=${p} observed ${observed} (tolerance ${tolerance})`,
          );
        });
        assert.deepEqual(c.toJSON().injected, {
          latency: 0,
          error: counts.get('error') ?? 0,
          hang: counts.get('hang') ?? 0,
          drop: counts.get('drop') ?? 0,
          cpu: counts.get('cpu') ?? 0,
        });
      },
    ),
    { numRuns: 40, seed: 20261201 },
  );
});

test('bad specs are rejected with LEASH_ERR_INVALID_ARG, a did-you-mean, and the controller unchanged', () => {
  invalid(() => chaosController({ seeed: 1 } as ChaosSpec), /unknown option "seeed"; did you mean "seed"\?/);
  invalid(
    () => chaosController({ target: { hedaer: 'x' } } as unknown as ChaosSpec),
    /spec\.target: unknown option "hedaer"; did you mean "header"\?/,
  );
  invalid(
    () => chaosController({ faults: [{ type: 'latncy', probability: 0.1, ms: 1 }] } as unknown as ChaosSpec),
    /spec\.faults\[0\]\.type must be one of .*did you mean "latency"\?/,
  );
  invalid(
    () =>
      chaosController({
        faults: [{ type: 'latency', probability: 0.1, ms: 1, maxMS: 4 }],
      } as unknown as ChaosSpec),
    /unknown option "maxMS"; did you mean "maxMs"\?/,
  );
  invalid(
    () => chaosController({ faults: [{ type: 'error', probability: 1.5 }] }),
    /probability must be a finite number from 0 to 1, got the number 1.5/,
  );
  invalid(
    () => chaosController({ faults: [{ type: 'error', probability: '0.5' as unknown as number }] }),
    /got the string "0.5"/,
  );
  invalid(
    () =>
      chaosController({
        faults: [
          { type: 'error', probability: 0.6 },
          { type: 'hang', probability: 0.6 },
        ],
      }),
    /add up to more than 1/,
  );
  invalid(() => chaosController({ faults: [{ type: 'latency', probability: 0.1 }] }), /exactly one of ms/);
  invalid(
    () => chaosController({ faults: [{ type: 'latency', probability: 0.1, minMs: 5, maxMs: 1 }] }),
    /maxMs must be/,
  );
  invalid(() => chaosController({ faults: [{ type: 'cpu', probability: 0.1 } as never] }), /ms must be/);
  invalid(
    () => chaosController({ faults: [{ type: 'error', probability: 0.1, status: 200 }] }),
    /status must be an integer from 400 to 599/,
  );
  invalid(() => chaosController({ seed: -1 }), /seed must be an integer from 0 to 4294967295/);
  invalid(() => chaosController({ target: { keys: ['a'] } }), /keys needs spec\.target\.key/);
  invalid(() => chaosController({ target: { header: 'bad header' } }), /header name/);
  invalid(() => chaosController('hang' as unknown as ChaosSpec), /spec must be an object/);

  const c = chaosController(mixed);
  const before = JSON.stringify(c.toJSON());
  invalid(
    () => c.update({ seed: 1, faults: [{ type: 'hang', probability: 2 }] }),
    /ChaosController\.update\(patch\): spec\.faults\[0\]\.probability/,
  );
  assert.equal(JSON.stringify(c.toJSON()), before, 'a rejected patch changes nothing');
});

test('toJSON is plain JSON that can be sent back as a patch', () => {
  const c = chaosController({
    ...mixed,
    target: { header: 'x-leash-chaos', key: () => 'k', keys: ['k'], fraction: 0.5 },
  });
  const json = JSON.parse(JSON.stringify(c.toJSON()));
  assert.deepEqual(json.target, { header: 'x-leash-chaos', key: true, keys: ['k'], fraction: 0.5 });
  assert.equal(json.faults.length, 5);
  const { decisions: _d, injected: _i, ...patch } = json;
  const copy = chaosController(mixed);
  copy.update({ ...patch, target: { ...patch.target, key: false, keys: null } });
  assert.deepEqual(copy.toJSON().faults, json.faults);
});

test('leash:chaos:injected carries a frozen payload per injected fault, and nothing for calls left alone', () => {
  const events: ChaosInjectedEvent[] = [];
  const on = (m: unknown) => events.push(m as ChaosInjectedEvent);
  diagnostics_channel.subscribe('leash:chaos:injected', on);
  try {
    const c = chaosController({
      name: 'orders',
      seed: 11,
      faults: [{ type: 'latency', probability: 0.5, ms: 3 }],
    });
    let injected = 0;
    for (let i = 0; i < 100; i++) if (c.decide(background())) injected++;
    assert.equal(events.length, injected);
    assert.ok(injected > 20 && injected < 80);
    const e = events[0] as ChaosInjectedEvent;
    assert.ok(Object.isFrozen(e));
    assert.deepEqual(Object.keys(e).sort(), ['fault', 'ms', 'name', 'seq', 'via']);
    assert.equal(e.name, 'orders');
    assert.equal(e.fault, 'latency');
    assert.equal(e.via, 'decide');
    assert.equal(e.ms, 3);
  } finally {
    diagnostics_channel.unsubscribe('leash:chaos:injected', on);
  }
});

test('an error fault takes either its own error or status and message, never both (as latency takes one form)', () => {
  const mine = new Error('mine');
  invalid(
    () => chaosController({ faults: [{ type: 'error', probability: 0.1, error: mine, status: 503 }] }),
    /^chaosController\(spec\): spec\.faults\[0\] \(error\) takes either error \(your own error, thrown as is\) or status and message \(for the ChaosError it builds\), not both: status would be ignored; set it on your error instead$/,
  );
  invalid(
    () => chaosController({ faults: [{ type: 'error', probability: 0.1, error: () => mine, message: 'x' }] }),
    /spec\.faults\[0\] \(error\) takes either error .* not both: message would be ignored; set it on your error instead$/,
  );
  const c = chaosController({ seed: 1, faults: [{ type: 'error', probability: 0.1, status: 503 }] });
  invalid(
    () => c.update({ faults: [{ type: 'error', probability: 0.1, status: 503, message: 'm', error: mine }] }),
    /^ChaosController\.update\(patch\): spec\.faults\[0\] \(error\) .*status and message would be ignored/,
  );
  assert.deepEqual(c.toJSON().faults, [{ type: 'error', probability: 0.1, status: 503 }], 'unchanged');
  // A non-Error value (the type refuses it; plain JavaScript does not) would make every injected
  // failure reject with something that is not an Error.
  invalid(
    () => chaosController({ faults: [{ type: 'error', probability: 0.1, error: { code: 'E' } as never }] }),
    /spec\.faults\[0\]\.error must be an Error or a function returning one, got an object$/,
  );
  // Each form alone is accepted.
  assert.equal(
    chaosController({ faults: [{ type: 'error', probability: 1, error: mine }] }).toJSON().faults[0]?.error,
    true,
  );
  assert.equal(
    chaosController({ faults: [{ type: 'error', probability: 1, status: 502, message: 'm' }] }).toJSON()
      .faults[0]?.status,
    502,
  );
});

test('decide(ctx, headers): header names match in any case; entries arrays and Maps are read; anything else throws', () => {
  const always = [{ type: 'error' as const, probability: 1 }];
  const c = chaosController({ seed: 3, target: { header: 'x-leash-chaos' }, faults: always });
  const bg = background();
  assert.equal(c.decide(bg, { 'X-Leash-Chaos': '1' })?.fault, 'error', 'a plain object in another case');
  assert.equal(c.decide(bg, { 'X-LEASH-CHAOS': ['yes'] })?.fault, 'error');
  assert.equal(c.decide(bg, { 'X-Leash-Chaos': 'off' }), undefined);
  assert.equal(c.decide(bg, [['X-Leash-Chaos', '1']])?.fault, 'error', 'entries, as new Headers(init) takes');
  assert.equal(c.decide(bg, [['x-leash-chaos', '0']]), undefined);
  assert.equal(c.decide(bg, [['other', '1']]), undefined);
  assert.equal(c.decide(bg, new Map([['X-Leash-Chaos', '1']]))?.fault, 'error');
  assert.equal(c.decide(bg, []), undefined);
  assert.equal(c.decide(bg, null as never), undefined, 'null: no headers');
  assert.equal(c.toJSON().decisions, 4, 'the four calls carrying the header on');

  const shape =
    /^ChaosController\.decide\(ctx, headers\): headers must be the request's headers: an object of names to values \(such as node's req\.headers\), a fetch Headers \(or another object with get\(name\)\) or an array of \[name, value\] pairs, got /;
  for (const [bad, got] of [
    ['x-leash-chaos', 'the string "x-leash-chaos"'],
    [5, 'the number 5'],
    [true, 'the boolean true'],
    [() => '1', 'a function'],
  ] as const) {
    invalid(() => c.decide(bg, bad as never), new RegExp(`${shape.source}${got.replace(/[()]/g, '\\$&')}$`));
  }
  invalid(
    () => c.decide(bg, [['x-leash-chaos']] as never),
    /^ChaosController\.decide\(ctx, headers\): headers\[0\] must be a \[name, value\] pair of strings, got an array of length 1$/,
  );
  invalid(
    () => c.decide(bg, ['x-leash-chaos', '1'] as never),
    /headers\[0\] must be a \[name, value\] pair of strings, got the string "x-leash-chaos"$/,
  );
  invalid(
    () => c.decide(bg, { 'x-leash-chaos': 1 } as never),
    /^ChaosController\.decide\(ctx, headers\): headers\["x-leash-chaos"\] must be a string or an array of strings, got the number 1$/,
  );
  // Checked whatever the target: a controller without a header target rejects them too.
  invalid(() => chaosController({ faults: always }).decide(bg, 'x' as never), shape);
  assert.equal(c.toJSON().decisions, 4, 'a rejected call draws nothing');
});

test('chaosController(spec) takes no second argument', () => {
  invalid(
    () => (chaosController as (...a: unknown[]) => unknown)({}, { seed: 1 }),
    /^chaosController\(spec\): takes one argument, the spec; got a second argument: an object$/,
  );
});
