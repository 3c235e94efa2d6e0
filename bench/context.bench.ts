// Core Context benchmarks: leash beside Go's context (bench/go, measured in this run), native
// AbortController/AbortSignal wiring, and effection.
// Run: npm run build (in the repo root), then in bench/: npm run context
//      npx -y -p node@24 node --expose-gc --import tsx context.bench.ts   (the same on Node 24)
//
// Processes: leash's cases run in this process. Every peer that changes the process for what runs
// after it runs in a child process of its own: AbortSignal.any (on Node 20 its signals are
// collected late and the garbage slows everything after), AbortSignal.timeout (each call leaves a
// timer alive until it fires or its signal is collected), and effection.
import { type GoFigures, mergeGo, printGo, runGo } from './go-figures.js';
import {
  type Case,
  childName,
  childReport,
  header,
  inChild,
  interleave,
  type Result,
  ratio,
  row,
} from './harness.js';

const ROUNDS = Number(process.env.ROUNDS ?? 11);
const part = childName();
let sink = 0;

// What code does by hand without leash: a child controller wired to the parent's signal, unwired,
// then aborted (with `reason`, or with a fresh DOMException when it is undefined).
function nativeCases(): Case[] {
  const parentController = new AbortController();
  const sharedReason = new Error('canceled');
  const wiring = (n: number, reason: unknown) => {
    const ps = parentController.signal;
    for (let i = 0; i < n; i++) {
      const child = new AbortController();
      const onAbort = () => child.abort(ps.reason);
      ps.addEventListener('abort', onAbort, { once: true });
      ps.removeEventListener('abort', onAbort);
      if (reason === undefined) child.abort();
      else child.abort(reason);
    }
  };
  return [
    {
      name: 'new AbortController + add/removeEventListener on parent + abort() (a DOMException)',
      ops: 50_000,
      run: (n) => wiring(n, undefined),
    },
    {
      name: 'the same, abort(sharedReason) (no DOMException per abort)',
      ops: 50_000,
      run: (n) => wiring(n, sharedReason),
    },
  ];
}

async function nativePart(): Promise<void> {
  childReport(await interleave(nativeCases(), { rounds: ROUNDS }));
}

async function anyPart(): Promise<void> {
  const parentController = new AbortController();
  childReport(
    await interleave(
      [
        {
          name: 'new AbortController + AbortSignal.any([parent, child.signal]) + child.abort() (a DOMException)',
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
      ],
      { rounds: ROUNDS },
    ),
  );
}

// Timers: AbortSignal.timeout has no cancel, so each call leaves its timer until it fires or its
// signal is collected. "steady state": each signal is dropped at once (garbage, its timer cleared
// when collected; the heap is collected before every round). "accumulating": every signal of the
// round is kept alive, so the round ends with 50k pending timers, as a server that makes one per
// request and keeps it for the request's life would have under load. The control is the cost of a
// plain Node timer that is armed and cleared.
async function timersPart(): Promise<void> {
  const keep: AbortSignal[] = [];
  childReport(
    await interleave(
      [
        {
          name: 'control: setTimeout(5 s) + clearTimeout',
          ops: 50_000,
          run: (n) => {
            for (let i = 0; i < n; i++) clearTimeout(setTimeout(() => {}, 5_000));
          },
        },
        {
          name: 'AbortSignal.timeout(5 s), dropped at once (steady state)',
          ops: 50_000,
          run: (n) => {
            for (let i = 0; i < n; i++) AbortSignal.timeout(5_000);
          },
        },
        {
          name: 'AbortSignal.timeout(5 s), 50k kept alive per round (accumulating)',
          ops: 50_000,
          run: (n) => {
            keep.length = 0;
            for (let i = 0; i < n; i++) keep.push(AbortSignal.timeout(5_000));
          },
        },
      ],
      { rounds: ROUNDS },
    ),
  );
  keep.length = 0;
  process.exit(0); // do not wait 5 s for the last round's timers
}

async function effectionPart(): Promise<void> {
  const { createScope } = await import('effection');
  childReport(
    await interleave(
      [
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
      { rounds: 5 },
    ),
  );
}

async function main(): Promise<void> {
  console.log(
    `leash core context benchmarks on Node ${process.version} (${process.platform}/${process.arch}); ` +
      `${ROUNDS} interleaved rounds; CPU ns/op, median [min..max], and the median wall clock`,
  );
  const go1 = runGo(['WithCancel', 'WithTimeout', 'ValueDepth10']);
  const { background, createKey, withCancel, withTimeout, withValue } = await import('leashjs');
  type Ctx = ReturnType<typeof background>;
  const [parent] = withCancel(background()); // a long-lived parent, as a server's root context
  const keys = Array.from({ length: 10 }, (_, i) => createKey<number>(`k${i}`));
  let deep: Ctx = parent;
  for (let i = 0; i < 10; i++) deep = withValue(deep, keys[i]!, i);
  const rootKey = keys[0]!;
  const leash = await interleave(
    [
      {
        name: 'leash withCancel(long-lived parent) + cancel',
        run: (n) => {
          for (let i = 0; i < n; i++) withCancel(parent)[1]();
        },
      },
      {
        name: 'leash withTimeout(long-lived parent, 5 s) + cancel',
        run: (n) => {
          for (let i = 0; i < n; i++) withTimeout(parent, 5_000)[1]();
        },
      },
      {
        name: 'leash ctx.value(key) at depth 10 (key at the root end)',
        ops: 2_000_000,
        run: (n) => {
          for (let i = 0; i < n; i++) sink += deep.value(rootKey) as number;
        },
      },
    ],
    { rounds: ROUNDS },
  );
  const go2 = runGo(['WithCancel', 'WithTimeout', 'ValueDepth10']);
  const goFigs: GoFigures | undefined = mergeGo(go1, go2);
  printGo(goFigs);

  header('leash beside Go (goal: faster than Go on the same machine)');
  const pairs = [
    [leash[0]!, 'WithCancel'],
    [leash[1]!, 'WithTimeout'],
    [leash[2]!, 'ValueDepth10'],
  ] as const;
  for (const [r, k] of pairs) {
    const g = goFigs?.[k]?.ns;
    row(r, ...(g === undefined ? [] : [ratio(r, g, `Go ${k}`, 1)]));
  }

  header('native peers, each group in its own process (ratio: how many times leash withCancel + cancel)');
  const base = leash[0]!;
  const times = (r: Result) => `${(r.nsPerOp / base.nsPerOp).toFixed(0)}x leash`;
  const native = inChild(import.meta.url, 'native');
  row(
    native[0]!,
    times(native[0]!),
    `goal: leash >= 5x faster: ${native[0]!.nsPerOp >= 5 * base.nsPerOp ? 'met' : 'MISSED'}`,
  );
  row(native[1]!, times(native[1]!));
  const any = inChild(import.meta.url, 'any');
  row(any[0]!, times(any[0]!));
  const eff = inChild(import.meta.url, 'effection');
  row(eff[0]!, times(eff[0]!));

  header('timers (ratio: how many times leash withTimeout + cancel)');
  const tbase = leash[1]!;
  const timers = inChild(import.meta.url, 'timers');
  for (const r of timers) row(r, `${(r.nsPerOp / tbase.nsPerOp).toFixed(1)}x leash`);

  // Cancelling a context with 100k children. A gc() before each timed cancel keeps the garbage of
  // building the tree out of the measurement; three untimed rounds let the JIT settle first.
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  const samples: number[] = [];
  for (let round = 0; round < 14; round++) {
    const [p, cancel] = withCancel(background());
    for (let i = 0; i < 100_000; i++) withCancel(p);
    gc();
    const c0 = process.cpuUsage();
    cancel();
    const c = process.cpuUsage(c0);
    if (round >= 3) samples.push((c.user + c.system) / 1000);
  }
  samples.sort((a, b) => a - b);
  const med = samples[Math.floor(samples.length / 2)]!;
  header('cancel a context with 100k children (CPU time)');
  console.log(
    `leash cancel(): ${med.toFixed(2)} ms (median of ${samples.length}, worst ${samples.at(-1)!.toFixed(2)}); goal < 10 ms: ${med < 10 ? 'met' : 'MISSED'}`,
  );

  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 1_000_000; i++) withCancel(parent)[1]();
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  header('a million derived-and-cancelled children of one parent');
  console.log(
    `heap growth: ${(grown / 1024).toFixed(0)} KiB; goal < 1 MB: ${grown < 1_000_000 ? 'met' : 'MISSED'}`,
  );
  if (sink === -1) console.log(sink);
}

switch (part) {
  case undefined:
    await main();
    break;
  case 'native':
    await nativePart();
    break;
  case 'any':
    await anyPart();
    break;
  case 'timers':
    await timersPart();
    break;
  case 'effection':
    await effectionPart();
    break;
  default:
    throw new Error(`unknown part ${part}`);
}
