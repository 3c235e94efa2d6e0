// Core Context benchmarks: leash against native AbortController/AbortSignal and effection.
// Run: npm run build (in the repo root), then in bench/: npm run context
import { createScope } from 'effection';
import { background, type Context, createKey, withCancel, withTimeout, withValue } from 'leashjs';
import { group } from './harness.js';

console.log(`leash core context benchmarks on Node ${process.version} (${process.platform}/${process.arch})`);

// A long-lived parent, as a server's root context would be.
const [parent] = withCancel(background());
const parentController = new AbortController();
const sharedReason = new Error('canceled');

// What code does by hand without leash: a child controller wired to the parent's signal, unwired,
// then aborted (with `reason`, or with a fresh DOMException when it is undefined).
function nativeWiring(n: number, reason: unknown): void {
  const ps = parentController.signal;
  for (let i = 0; i < n; i++) {
    const child = new AbortController();
    const onAbort = () => child.abort(ps.reason);
    ps.addEventListener('abort', onAbort, { once: true });
    ps.removeEventListener('abort', onAbort);
    if (reason === undefined) child.abort();
    else child.abort(reason);
  }
}

// Order matters: the AbortSignal.timeout peers leave hundreds of thousands of live timers behind
// for 5 s, and a heap that large keeps V8's incremental marking busy (every pointer write pays a
// barrier). The measurements that are not ratios against those peers run first, on a clean heap.
const keys = Array.from({ length: 10 }, (_, i) => createKey<number>(`k${i}`));
let deep: Context = parent;
for (let i = 0; i < 10; i++) deep = withValue(deep, keys[i]!, i);
const rootKey = keys[0]!;
let sink = 0;
await group(
  'value() at depth 10 (key at the root end)',
  [
    {
      name: 'leash ctx.value(key)',
      run: (n) => {
        for (let i = 0; i < n; i++) sink += deep.value(rootKey) as number;
      },
    },
  ],
  { goalNs: 40, ops: 2_000_000 },
);

// Cancelling a context with 100k children. A gc() before each timed cancel keeps the garbage of
// building the tree (100k fresh objects) from being collected inside the measurement; three
// untimed rounds let the JIT settle first.
const gcNow = (globalThis as { gc?: () => void }).gc ?? (() => {});
const samples: number[] = [];
for (let round = 0; round < 14; round++) {
  const [p, cancel] = withCancel(background());
  for (let i = 0; i < 100_000; i++) withCancel(p);
  gcNow();
  const t0 = process.hrtime.bigint();
  cancel();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (round >= 3) samples.push(ms);
}
samples.sort((a, b) => a - b);
const median = samples[Math.floor(samples.length / 2)] as number;
console.log('\n## cancel a context with 100k children');
console.log(
  `leash cancel(): ${median.toFixed(2)} ms (median of ${samples.length}, worst ${(samples.at(-1) as number).toFixed(2)}); goal < 10 ms: ${median < 10 ? 'met' : 'MISSED'}`,
);

// Heap growth for a million derived-and-cancelled children of one parent.
const gc = (globalThis as { gc?: () => void }).gc;
if (gc) {
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 1_000_000; i++) withCancel(parent)[1]();
  gc();
  const after = process.memoryUsage().heapUsed;
  console.log('\n## a million derived-and-cancelled children of one parent');
  console.log(
    `heap growth: ${((after - before) / 1024).toFixed(0)} KiB; goal < 1 MB: ${after - before < 1_000_000 ? 'met' : 'MISSED'}`,
  );
}

await group(
  'derive + cancel a child of a long-lived parent',
  [
    {
      name: 'leash withCancel + cancel',
      run: (n) => {
        for (let i = 0; i < n; i++) {
          const [, cancel] = withCancel(parent);
          cancel();
        }
      },
    },
    {
      name: 'AbortController + add/removeEventListener',
      run: (n) => nativeWiring(n, undefined),
    },
    {
      // The fairest native peer: no DOMException per abort (a shared reason), still one Event.
      name: 'AbortController + listeners, abort(shared)',
      run: (n) => nativeWiring(n, sharedReason),
    },
    {
      name: 'AbortSignal.any([parent]) + abort',
      ops: 5_000,
      run: (n) => {
        const ps = parentController.signal;
        for (let i = 0; i < n; i++) {
          const child = new AbortController();
          AbortSignal.any([ps, child.signal]);
          child.abort();
        }
      },
    },
    {
      name: 'effection createScope + destroy',
      ops: 2_000,
      run: async (n) => {
        for (let i = 0; i < n; i++) {
          const [, destroy] = createScope();
          await destroy();
        }
      },
    },
  ],
  { goalNs: 200 },
);

await group(
  'withTimeout(5s) + cancel',
  [
    {
      name: 'leash withTimeout + cancel',
      run: (n) => {
        for (let i = 0; i < n; i++) {
          const [, cancel] = withTimeout(parent, 5_000);
          cancel();
        }
      },
    },
    {
      name: 'AbortSignal.timeout',
      run: (n) => {
        for (let i = 0; i < n; i++) AbortSignal.timeout(5_000);
      },
    },
    {
      name: 'AbortSignal.any([parent, AbortSignal.timeout])',
      ops: 5_000,
      run: (n) => {
        const ps = parentController.signal;
        for (let i = 0; i < n; i++) AbortSignal.any([ps, AbortSignal.timeout(5_000)]);
      },
    },
    {
      name: 'setTimeout + clearTimeout',
      run: (n) => {
        for (let i = 0; i < n; i++) clearTimeout(setTimeout(() => {}, 5_000));
      },
    },
  ],
  { goalNs: 700, ops: 100_000 },
);

if (sink === -1) console.log(sink);
