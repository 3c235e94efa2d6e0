// Acceptance tests for the `leashjs/leak` export, written from docs/leak.md alone (not from the
// implementation). They import through the package name, as a user would: run `npm run build` first.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { background, withCancel } from 'leashjs';
import {
  counts,
  debugHandler,
  type IgnoreRule,
  LeakError,
  profile,
  snapshot,
  startTrace,
  startTracking,
  stopTracking,
  trackingMode,
  verifyNone,
  withLabel,
} from 'leashjs/leak';
import { Channel, go } from 'leashjs/task';
import { delay, expectInvalid, turn } from './support.js';

const here = 'test/acceptance/leak.test.ts';

// The 1-based line of this file holding `marker` (a comment on the line under test).
function lineOf(marker: string): number {
  const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  return lines.findIndex((l) => l.includes(marker) && !l.includes('lineOf(')) + 1;
}

async function leakError(p: Promise<void>): Promise<LeakError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof LeakError, `expected a LeakError, got ${String(err)}`);
  return err;
}

const siteLine = (site: string) => site.replace(/:\d+$/, '');

describe('verifyNone and snapshot', () => {
  test('resolves within a few milliseconds when nothing is alive', async () => {
    const base = snapshot();
    await delay(2);
    const t0 = performance.now();
    await verifyNone({ baseline: base });
    // docs: "Resolves within a few milliseconds"; generous for a shared machine.
    assert.ok(performance.now() - t0 < 1000);
  });

  test('the docs example: a forgotten interval, grouped with count, kind, state and the creation line', async () => {
    const base = snapshot();
    const poller = setInterval(() => {}, 1000); // DOCS-INTERVAL
    const err = await leakError(verifyNone({ baseline: base, timeoutMs: 200 }));
    clearInterval(poller);
    assert.equal(err.code, 'LEASH_ERR_LEAK');
    assert.equal(err.name, 'LeakError');
    assert.match(err.message, /^1 leaked item in 1 group still alive after waiting \d+ ms/);
    assert.match(err.message, /1 × resource Interval \[active\], keeps the process alive, oldest \d+ ms/);
    assert.match(err.message, new RegExp(`created at ${here}:${lineOf('DOCS-INTERVAL')}:\\d+`));
    const [leak] = err.leaks;
    assert.equal(leak?.kind, 'resource');
    assert.equal(leak?.type, 'Interval');
    assert.equal(leak?.state, 'active');
    assert.equal(leak?.keepsAlive, true);
    assert.ok(leak!.ageMs >= 150);
    assert.equal(siteLine(leak!.site), `${here}:${lineOf('DOCS-INTERVAL')}`);
    assert.ok(Array.isArray(leak!.stack));
    for (const key of ['id', 'creatorId', 'label']) assert.ok(key in leak!, key);
    assert.equal(err.groups.length, 1);
    assert.deepEqual(Object.keys(err.groups[0]!).sort(), [
      'count',
      'keepsAlive',
      'kind',
      'oldestMs',
      'site',
      'stack',
      'state',
      'type',
    ]);
  });

  test('waits for work that finishes within timeoutMs', async () => {
    const base = snapshot();
    setTimeout(() => {}, 30);
    await verifyNone({ baseline: base, timeoutMs: 2000 });
  });

  test('a promise nobody can settle is proven abandoned, one item at its line', async () => {
    const base = snapshot();
    async function handler(): Promise<void> {
      await new Promise<void>(() => {}); // DOCS-FOREVER
    }
    void handler();
    const err = await leakError(verifyNone({ baseline: base, timeoutMs: 1000 }));
    assert.equal(err.leaks.length, 1, err.message);
    assert.equal(err.leaks[0]!.state, 'abandoned');
    assert.equal(siteLine(err.leaks[0]!.site), `${here}:${lineOf('DOCS-FOREVER')}`);
    assert.match(err.message, /abandoned \(garbage-collected while pending: it can never settle\)/);
  });

  test('a pending but reachable promise is pending, not abandoned', async () => {
    const base = snapshot();
    let resolve: (() => void) | undefined;
    const kept = new Promise<void>((r) => {
      resolve = r;
    });
    const err = await leakError(verifyNone({ baseline: base, timeoutMs: 50 }));
    assert.ok(err.leaks.some((l) => l.kind === 'promise' && l.state === 'pending'));
    assert.ok(!err.leaks.some((l) => l.state === 'abandoned'));
    resolve!();
    await kept;
    await verifyNone({ baseline: base });
  });

  test('work alive at the snapshot is accepted (IgnoreCurrent)', async () => {
    const old = setInterval(() => {}, 1000);
    const base = snapshot();
    try {
      await verifyNone({ baseline: base, timeoutMs: 50 });
    } finally {
      clearInterval(old);
    }
  });

  test('assert.rejects(verifyNone()) works: the caller’s own await is not reported', async () => {
    const base = snapshot();
    const t = setInterval(() => {}, 1000);
    await assert.rejects(verifyNone({ baseline: base, timeoutMs: 20 }), LeakError);
    clearInterval(t);
    await verifyNone({ baseline: base });
  });

  test('a leash task still running is reported, at the line where it is blocked', async () => {
    const [ctx, cancel] = withCancel(background());
    const ch = new Channel<number>();
    const base = snapshot();
    const task = go(
      ctx,
      async (ctx) => {
        await ch.recv(ctx); // DOCS-TASK
      },
      { name: 'consumer' },
    );
    const err = await leakError(verifyNone({ baseline: base, timeoutMs: 50 }));
    cancel();
    await task.done.catch(() => {});
    assert.equal(err.groups[0]!.kind, 'task');
    assert.equal(err.groups[0]!.type, 'consumer');
    assert.equal(siteLine(err.groups[0]!.site), `${here}:${lineOf('DOCS-TASK')}`);
    await verifyNone({ baseline: base });
  });

  test('a listener on a long-lived emitter is reported until removed', async () => {
    const bus = new EventEmitter();
    const base = snapshot();
    const onChange = () => {};
    bus.on('change', onChange); // DOCS-LISTENER
    const err = await leakError(verifyNone({ baseline: base, timeoutMs: 20 }));
    assert.equal(err.leaks[0]!.kind, 'listener');
    assert.equal(err.leaks[0]!.state, "listening for 'change'");
    assert.equal(siteLine(err.leaks[0]!.site), `${here}:${lineOf('DOCS-LISTENER')}`);
    bus.off('change', onChange);
    await verifyNone({ baseline: base });
  });

  test('bad options throw TypeError LEASH_ERR_INVALID_ARG, with did-you-mean for a typo', async () => {
    await expectInvalid(() => verifyNone({ timeoutMs: -1 }), 'negative timeoutMs');
    await expectInvalid(() => verifyNone({ timeout: 10 } as never), 'unknown key');
    assert.throws(() => verifyNone({ timeout: 10 } as never), /did you mean "timeoutMs"/);
    await expectInvalid(() => verifyNone({ baseline: {} as never }), 'baseline not from snapshot()');
    await expectInvalid(() => verifyNone({ ignore: [{ nope: 1 }] as never }), 'bad ignore rule');
    await expectInvalid(() => verifyNone(42 as never), 'options not an object');
  });
});

describe('IgnoreRule', () => {
  test('type, topFrame, anyFrame and creator rules accept matching work', async () => {
    const base = snapshot();
    function startPoller(): NodeJS.Timeout {
      return setInterval(() => {}, 1000);
    }
    const t = startPoller();
    try {
      const rules: IgnoreRule[][] = [
        [{ type: 'Interval' }],
        [{ type: /Interv/ }],
        [{ type: 'resource' }],
        [{ topFrame: 'startPoller' }],
        [{ anyFrame: here }],
        [{ creator: 'startPoller' }],
      ];
      for (const ignore of rules) await verifyNone({ baseline: base, ignore, timeoutMs: 20 });
      await leakError(verifyNone({ baseline: base, ignore: [{ package: 'pg-pool' }], timeoutMs: 20 }));
    } finally {
      clearInterval(t);
    }
  });
});

describe('withLabel', () => {
  test('verifyNone({ label }) checks one unit while others run', async () => {
    const base = snapshot();
    let other: NodeJS.Timeout | undefined;
    withLabel('other', () => {
      other = setInterval(() => {}, 1000);
    });
    const result = withLabel('mine', () => 42);
    assert.equal(result, 42);
    await withLabel('mine', async () => {
      await delay(2);
    });
    await verifyNone({ baseline: base, label: 'mine', timeoutMs: 20 });
    const err = await leakError(verifyNone({ baseline: base, label: 'other', timeoutMs: 20 }));
    assert.equal(err.leaks[0]!.label, 'other');
    clearInterval(other);
    await expectInvalid(() => withLabel('', () => {}), 'empty label');
    await expectInvalid(() => withLabel('x', 1 as never), 'fn not a function');
  });
});

describe('tracking modes and counts', () => {
  test('startTracking switches mode; stopTracking turns it off; counts() is cheap in every mode', async () => {
    for (const mode of ['count', 'debug', 'full'] as const) {
      startTracking({ mode });
      assert.equal(trackingMode(), mode);
      await Promise.all([1, 2, 3].map(async (n) => n));
      const c = counts();
      assert.equal(c.mode, mode);
      for (const key of ['promisesCreated', 'promisesSettled', 'promisesPending', 'promisesAbandoned']) {
        assert.equal(typeof c[key as keyof typeof c], 'number', key);
      }
      assert.ok(c.promisesSettled <= c.promisesCreated);
      assert.equal(c.promisesPending, c.promisesCreated - c.promisesSettled);
      assert.equal(typeof c.resources, 'object');
    }
    stopTracking();
    assert.equal(trackingMode(), undefined);
    stopTracking();
    await expectInvalid(() => startTracking({ mode: 'fast' as never }), 'unknown mode');
    await expectInvalid(() => startTracking({ mode: 'debug', sampleEvery: 0 }), 'sampleEvery 0');
    startTracking({ mode: 'full' });
  });
});

describe('profile', () => {
  test('debug 1 groups with counts, debug 2 lists items with state and age, json is JSON', () => {
    startTracking({ mode: 'full' });
    const timers = [setInterval(() => {}, 1000), setInterval(() => {}, 1000)];
    try {
      const one = profile({ debug: 1 });
      assert.match(
        one,
        /^leash profile: total \d+ \(tasks \d+, resources \d+, promises \d+, listeners \d+; tracking full\)/,
      );
      assert.match(one, /\d+ @ resource Interval \[active\] keeps-alive/);
      assert.match(one, new RegExp(`#\\t.*${here}`));
      const two = profile({ debug: 2 });
      assert.match(two, /resource \d+ Interval \[active, \d+ ms\]:/);
      const json = JSON.parse(profile({ format: 'json' })) as { total: number; groups: unknown[] };
      assert.equal(typeof json.total, 'number');
      assert.ok(Array.isArray(json.groups));
      const entries = JSON.parse(profile({ debug: 2, format: 'json' })) as { entries: unknown[] };
      assert.ok(Array.isArray(entries.entries));
    } finally {
      for (const t of timers) clearInterval(t);
    }
    assert.throws(() => profile({ debug: 3 as never }), { code: 'LEASH_ERR_INVALID_ARG' });
    assert.throws(() => profile({ format: 'xml' as never }), { code: 'LEASH_ERR_INVALID_ARG' });
  });
});

describe('startTrace', () => {
  test('Chrome trace-event JSON: async slices, callback slices and flows; bounded', async () => {
    const rec = startTrace({ maxEvents: 1000 });
    await new Promise<void>((resolve) => setTimeout(resolve, 2));
    await turn();
    rec.stop();
    rec.stop();
    const json = JSON.parse(JSON.stringify(rec.toJSON())) as {
      traceEvents: Array<{ ph: string; ts: number; pid: number; tid: number; id?: string }>;
      displayTimeUnit: string;
    };
    assert.equal(json.displayTimeUnit, 'ms');
    const phases = new Set(json.traceEvents.map((e) => e.ph));
    for (const ph of ['b', 'e', 'B', 'E']) assert.ok(phases.has(ph), ph);
    assert.ok(rec.size <= 1000);
    assert.equal(typeof rec.dropped, 'number');
    assert.throws(() => startTrace({ maxEvents: 1 }), { code: 'LEASH_ERR_INVALID_ARG' });
  });
});

describe('debugHandler', () => {
  test('serves tasks and trace, falls through for other paths, bounds traces', async () => {
    const debug = debugHandler({ maxTraceSeconds: 1 });
    const server = http.createServer((req, res) => {
      if (!debug(req, res)) {
        res.writeHead(404);
        res.end('not found');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const tasks = await fetch(`${base}/debug/leash/tasks?debug=2`);
      assert.equal(tasks.status, 200);
      assert.match(await tasks.text(), /^leash profile/);
      const json = await fetch(`${base}/debug/leash/tasks?format=json`);
      assert.match(json.headers.get('content-type') ?? '', /json/);
      await json.json();
      const other = await fetch(`${base}/elsewhere`);
      assert.equal(other.status, 404);
      await other.text();
      const tooLong = await fetch(`${base}/debug/leash/trace?seconds=5`);
      assert.equal(tooLong.status, 400);
      await tooLong.text();
      const first = fetch(`${base}/debug/leash/trace?seconds=0.3`);
      await delay(50);
      const second = await fetch(`${base}/debug/leash/trace?seconds=0.1`);
      assert.equal(second.status, 503);
      assert.ok(second.headers.get('retry-after'));
      await second.text();
      const trace = await first;
      assert.equal(trace.status, 200);
      assert.ok(Array.isArray(((await trace.json()) as { traceEvents: unknown[] }).traceEvents));
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    assert.throws(() => debugHandler({ prefix: 'debug' }), { code: 'LEASH_ERR_INVALID_ARG' });
  });
});
