// Issue 11: using leashjs/task must never turn on a process-wide hook. AsyncLocalStorage (on Node
// 20 its first run/enterWith installs a promise hook that every promise in the process then pays
// for), async_hooks.createHook and v8.promiseHooks are each spied on in a fresh child process
// before leash is loaded; the child then uses go, Group (with a queue), channels, range, select,
// withTaskState, sleep and after, and reports which spies fired. Structural, not timed: the bench
// (bench/task.bench.ts) shows what the hook would cost.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const url = (rel: string) => pathToFileURL(fileURLToPath(new URL(rel, import.meta.url))).href;

const CHILD = `
import { createRequire, syncBuiltinESMExports } from 'node:module';
const require = createRequire(import.meta.url);
const hooks = require('node:async_hooks');
const v8 = require('node:v8');
const fired = [];
function spy(obj, name, label) {
  const orig = obj[name];
  obj[name] = function (...args) {
    fired.push(label);
    return orig.apply(this, args);
  };
}
const ALS = hooks.AsyncLocalStorage;
const Spied = class extends ALS {
  constructor(...args) {
    super(...args);
    fired.push('new AsyncLocalStorage');
  }
};
// Node 24 exposes AsyncLocalStorage through a getter (loaded lazily): redefine it there.
try {
  hooks.AsyncLocalStorage = Spied;
} catch {
  Object.defineProperty(hooks, 'AsyncLocalStorage', { value: Spied, writable: true, configurable: true, enumerable: true });
}
for (const m of ['run', 'enterWith', 'getStore', 'exit']) spy(ALS.prototype, m, 'AsyncLocalStorage#' + m);
spy(hooks, 'createHook', 'async_hooks.createHook');
for (const m of ['onInit', 'onSettled', 'onBefore', 'onAfter', 'createHook']) spy(v8.promiseHooks, m, 'v8.promiseHooks.' + m);
syncBuiltinESMExports();

const { background, sleep, withCancel, withTimeout } = await import(${JSON.stringify(url('../context/index.ts'))});
const t = await import(${JSON.stringify(url('./index.ts'))});
const bg = background();
const [ctx, cancel] = withTimeout(bg, 60_000);
const root = t.go(ctx, async (ctx) => {
  const ch = new t.Channel();
  const buf = new t.Channel(4);
  const child = t.go(ctx, async (ctx) => {
    for (let i = 0; i < 10; i++) await ch.send(ctx, i);
    ch.close();
  }, { name: 'producer' });
  let sum = 0;
  for await (const v of ch.range(ctx)) sum += v;
  await child.done;
  const g = new t.Group(ctx, { limit: 2 });
  for (let i = 0; i < 6; i++) g.go(async (ctx) => { await buf.send(ctx, i); await sleep(ctx, 1); });
  for (let i = 0; i < 6; i++) await buf.recv(ctx);
  await g.wait();
  const quit = new t.Channel();
  setTimeout(() => quit.close(), 2);
  await t.select(ctx, [{ recv: quit }, { recv: new t.Channel() }]);
  await t.select(ctx, [{ recv: quit }], { default: true });
  await t.withTaskState(ctx, 'io', Promise.resolve());
  await t.after(ctx, 1);
  const [c2, k2] = withCancel(ctx);
  const blocked = new t.Channel().recv(c2);
  k2();
  await blocked.catch(() => {});
  return sum + t.taskCount() + (t.taskOf(ctx) ? 1 : 0);
});
const result = await root.done;
cancel();
const leashFired = fired.slice();
// Control: the spies do see AsyncLocalStorage when something uses it.
new hooks.AsyncLocalStorage().run(1, () => {});
console.log(JSON.stringify({ result, leashFired, controlFired: fired.length > leashFired.length }));
`;

describe('no process-wide hook (issue 11)', () => {
  test('go, Group, channels, range, select and task states enable no AsyncLocalStorage, async hook or promise hook', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      result: number;
      leashFired: string[];
      controlFired: boolean;
    };
    assert.equal(out.result, 45 + 1 + 1, 'the workload ran (sum, the root task, taskOf)');
    assert.deepEqual(out.leashFired, []);
    assert.equal(out.controlFired, true, 'the spies work');
  });
});
