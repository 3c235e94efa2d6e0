import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { background, withCancel } from '../context/index.js';
import { Channel, go } from '../task/index.js';
import { collectGarbage } from './collect-garbage.js';
import { LeakError } from './leak-error.js';
import { snapshot } from './snapshot.js';
import { verifyNone } from './verify-none.js';

const here = 'src/leak/verify-none.test.ts';

async function leakError(p: Promise<void>): Promise<LeakError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof LeakError, `expected a LeakError, got ${String(err)}`);
  return err;
}

test('nothing leaked: resolves fast', async () => {
  const base = snapshot();
  await new Promise((r) => setTimeout(r, 5));
  const t0 = performance.now();
  await verifyNone({ baseline: base });
  assert.ok(performance.now() - t0 < 500, `took ${performance.now() - t0} ms`);
});

test('an interval never cleared is reported with its creation line', async () => {
  const base = snapshot();
  const timer = setInterval(() => {}, 1000); // LINE interval
  const err = await leakError(verifyNone({ baseline: base, timeoutMs: 50 }));
  clearInterval(timer);
  assert.equal(err.code, 'LEASH_ERR_LEAK');
  assert.equal(err.leaks.length, 1);
  const leak = err.leaks[0]!;
  assert.equal(leak.kind, 'resource');
  assert.equal(leak.type, 'Interval');
  assert.equal(leak.keepsAlive, true);
  assert.match(leak.site, new RegExp(`${here}:\\d+`));
  assert.match(err.message, /1 × resource Interval \[active\], keeps the process alive/);
  await verifyNone({ baseline: base });
});

test('a timer that fires before the deadline is waited for, not reported', async () => {
  const base = snapshot();
  setTimeout(() => {}, 30);
  await verifyNone({ baseline: base, timeoutMs: 2000 });
});

test('a promise nobody can resolve is proven abandoned', async () => {
  const base = snapshot();
  async function handle(): Promise<void> {
    await new Promise<void>(() => {});
  }
  for (let i = 0; i < 5; i++) void handle();
  const err = await leakError(verifyNone({ baseline: base, timeoutMs: 1000 }));
  const abandoned = err.leaks.filter((l) => l.state === 'abandoned');
  assert.ok(abandoned.length >= 5, err.message);
  assert.ok(abandoned.every((l) => l.site.includes(here)));
  assert.match(err.message, /abandoned/);
});

test('a pending promise still reachable is reported as pending, not abandoned', async () => {
  const base = snapshot();
  const resolvers: Array<() => void> = [];
  const p = new Promise<void>((resolve) => resolvers.push(resolve));
  const err = await leakError(verifyNone({ baseline: base, timeoutMs: 50 }));
  assert.ok(err.leaks.some((l) => l.kind === 'promise' && l.state === 'pending'));
  assert.ok(!err.leaks.some((l) => l.state === 'abandoned'));
  resolvers[0]!();
  await p;
  await verifyNone({ baseline: base });
});

test('a server never closed and its sockets are reported; closing fixes it', async () => {
  const base = snapshot();
  const server = net.createServer((s) => s.end()).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const err = await leakError(verifyNone({ baseline: base, timeoutMs: 50 }));
  assert.ok(
    err.leaks.some((l) => l.type === 'TCPSERVERWRAP' && l.site.includes(here)),
    err.message,
  );
  await new Promise((r) => server.close(r));
  await verifyNone({ baseline: base });
});

test('listeners piling up on a long-lived emitter are reported; removing them fixes it', async () => {
  const longLived = new EventEmitter();
  const base = snapshot();
  const handlers = [];
  for (let i = 0; i < 3; i++) {
    const h = () => {};
    handlers.push(h);
    longLived.on('config', h);
  }
  const err = await leakError(verifyNone({ baseline: base, timeoutMs: 50 }));
  const listeners = err.leaks.filter((l) => l.kind === 'listener');
  assert.equal(listeners.length, 3);
  assert.equal(err.groups.filter((g) => g.kind === 'listener')[0]?.count, 3);
  for (const h of handlers) longLived.off('config', h);
  await verifyNone({ baseline: base });
});

test('listeners on an emitter that is collected are not leaks', async () => {
  const base = snapshot();
  (() => {
    const shortLived = new EventEmitter();
    shortLived.on('x', () => shortLived.emit('y'));
  })();
  await verifyNone({ baseline: base });
});

test('an emitter that listens to itself (constructor listeners) is collected, not kept by its record', async () => {
  // The unformatted creation stack holds each frame's receiver: here the emitter itself.
  class SelfListening extends EventEmitter {
    constructor() {
      super();
      this.on('tick', () => {});
    }
  }
  const base = snapshot();
  let ref: WeakRef<object> | undefined;
  (() => {
    ref = new WeakRef(new SelfListening());
  })();
  await collectGarbage();
  assert.equal(ref?.deref(), undefined, 'the tracker kept a self-listening emitter alive');
  await verifyNone({ baseline: base });
});

test('a settled promise kept reachable does not keep its creator frame receivers alive', async () => {
  class Maker {
    make(): Promise<number> {
      return Promise.resolve(1);
    }
  }
  snapshot();
  let ref: WeakRef<object> | undefined;
  const kept = (() => {
    const maker = new Maker();
    ref = new WeakRef(maker);
    return maker.make();
  })();
  await kept;
  await collectGarbage();
  assert.equal(ref?.deref(), undefined, 'the settled promise record kept its creator alive');
});

test('http.get with agent: false leaves nothing: the throwaway Agent is not kept by tick stacks', async () => {
  const server = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  try {
    const base = snapshot();
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`http://127.0.0.1:${port}/`, { agent: false }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
    });
    // The Agent's own 'free' and 'newListener' listeners were reported while nextTick stacks taken
    // inside its methods (kept for lineage) held it alive.
    await verifyNone({ baseline: base });
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('a listener left on process is reported even once process.exitCode is set', async () => {
  // A test runner sets process.exitCode after the first failing test; process is not an exited child.
  const saved = process.exitCode;
  const base = snapshot();
  const onWarning = () => {};
  process.on('warning', onWarning);
  process.exitCode = 1;
  try {
    const err = await leakError(verifyNone({ baseline: base, timeoutMs: 50 }));
    assert.ok(
      err.leaks.some((l) => l.kind === 'listener' && l.state === "listening for 'warning'"),
      err.message,
    );
  } finally {
    process.exitCode = saved;
    process.off('warning', onWarning);
  }
  await verifyNone({ baseline: base });
});

test('ignore rules: type, topFrame, anyFrame, creator', async () => {
  const base = snapshot();
  function startPolling() {
    return setInterval(() => {}, 1000);
  }
  const timer = startPolling();
  try {
    await verifyNone({ baseline: base, ignore: [{ type: 'Interval' }] });
    await verifyNone({ baseline: base, ignore: [{ topFrame: here }] });
    await verifyNone({ baseline: base, ignore: [{ anyFrame: /startPolling/ }] });
    await verifyNone({ baseline: base, ignore: [{ creator: 'startPolling' }] });
    await leakError(verifyNone({ baseline: base, ignore: [{ creator: 'other' }], timeoutMs: 20 }));
    await leakError(verifyNone({ baseline: base, ignore: [{ package: 'express' }], timeoutMs: 20 }));
  } finally {
    clearInterval(timer);
  }
});

test('a baseline ignores what existed before it', async () => {
  const timer = setInterval(() => {}, 1000);
  const base = snapshot();
  try {
    await verifyNone({ baseline: base });
  } finally {
    clearInterval(timer);
  }
});

test('a leash task blocked forever is reported with its state; cancelling it fixes it', async () => {
  const base = snapshot();
  const [ctx, cancel] = withCancel(background());
  const ch = new Channel<number>();
  const task = go(ctx, async (c) => ch.recv(c), { name: 'waiter' });
  const err = await leakError(verifyNone({ baseline: base, timeoutMs: 50 }));
  const leak = err.leaks.find((l) => l.kind === 'task');
  assert.ok(leak, err.message);
  assert.equal(leak.type, 'waiter');
  assert.equal(leak.state, 'chan receive');
  assert.match(leak.site, new RegExp(here));
  cancel();
  await task.done.catch(() => {});
  await verifyNone({ baseline: base });
});

test('bad input throws LEASH_ERR_INVALID_ARG', () => {
  assert.throws(() => verifyNone({ timeoutMs: -1 }), { code: 'LEASH_ERR_INVALID_ARG' });
  assert.throws(() => verifyNone({ ignore: [{ nope: 1 } as never] }), { code: 'LEASH_ERR_INVALID_ARG' });
  assert.throws(() => verifyNone({ baseline: {} as never }), { code: 'LEASH_ERR_INVALID_ARG' });
});

// The line of this file that contains `marker`, 1-based.
function lineOf(marker: string): number {
  const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  return lines.findIndex((l) => l.includes(marker) && !l.includes('lineOf(')) + 1;
}

test('a file handle never closed names the open() line, not <internal>', async () => {
  const base = snapshot();
  async function openConfig(): Promise<fs.FileHandle> {
    return fs.open(fileURLToPath(import.meta.url)); // OPEN-LINE
  }
  const handles = await Promise.all([openConfig(), openConfig()]);
  const err = await leakError(verifyNone({ baseline: base, timeoutMs: 50 }));
  for (const h of handles) await h.close();
  const files = err.leaks.filter((l) => l.type === 'FILEHANDLE');
  assert.equal(files.length, 2, err.message);
  for (const leak of files) assert.equal(leak.site.replace(/:\d+$/, ''), `${here}:${lineOf('OPEN-LINE')}`);
  assert.equal(err.groups.filter((g) => g.type === 'FILEHANDLE').length, 1, err.message);
  await verifyNone({ baseline: base });
});

test('snapshot() and verifyNone() called from helpers: the test’s own leaks are still reported', async () => {
  const takeBaseline = () => snapshot();
  const check = (base: ReturnType<typeof snapshot>) => verifyNone({ baseline: base, timeoutMs: 50 });
  const base = takeBaseline();
  const timer = setInterval(() => {}, 1000); // HELPER-INTERVAL
  const held = [new Promise<void>(() => {})]; // HELPER-PROMISE
  const err = await leakError(check(base));
  clearInterval(timer);
  const sites = err.leaks.map((l) => l.site.replace(/:\d+$/, ''));
  assert.ok(sites.includes(`${here}:${lineOf('HELPER-INTERVAL')}`), err.message);
  assert.ok(sites.includes(`${here}:${lineOf('HELPER-PROMISE')}`), err.message);
  assert.equal(held.length, 1);
});

test('a harness that awaits the returned promise on its own line is not reported', async () => {
  async function harness(fn: () => Promise<void>): Promise<void> {
    const pending = fn();
    await pending;
  }
  await harness(async () => {
    const base = snapshot();
    await new Promise((r) => setTimeout(r, 2));
    await verifyNone({ baseline: base, timeoutMs: 300 });
  });
});
