// The cost of ctx.err (issue 9): is a fresh error per cancelled context cheap enough to replace the
// process-wide sentinels that frameworks were writing onto (Koa's `status = 500`)?
//
// leash makes ctx.err lazily, on first read, once per cancelled subtree, with a plain constructor
// whose prototype chain runs through CanceledError.prototype (src/context/errors.ts). The peers
// here are the alternatives that were weighed: a stack-less *native* error per context
// (`new CanceledError()` under Error.stackTraceLimit = 0) and native AbortController wiring.
// Go's WithCancel+cancel is measured by bench/go when present; run it in the same session.
// Run: npm run build (in the repo root), then in bench/: node --expose-gc --import tsx context-errors.bench.ts
import { background, CanceledError, isCanceled, withCancel, withTimeout } from 'leashjs';

// Self-contained (bench/harness.ts is being reworked): every case warms up, then runs 7 rounds,
// interleaved with its peers; the median round is reported with its ratio to the first case of
// the group. Rounds are timed in CPU time (process.cpuUsage), which a shared, overloaded machine
// distorts far less than wall time does.
interface Case {
  name: string;
  ops?: number;
  run: (n: number) => void;
}
async function group(title: string, cases: Case[], opts: { ops?: number } = {}): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const samples = cases.map(() => [] as number[]);
  for (const c of cases) c.run(Math.floor((c.ops ?? opts.ops ?? 200_000) / 4));
  for (let round = 0; round < 7; round++) {
    for (const [i, c] of cases.entries()) {
      const ops = c.ops ?? opts.ops ?? 200_000;
      gc?.();
      const t0 = process.cpuUsage();
      c.run(ops);
      const t = process.cpuUsage(t0);
      samples[i]?.push(((t.user + t.system) * 1_000) / ops);
      await new Promise((r) => setImmediate(r));
    }
  }
  console.log(`\n## ${title}`);
  let base = 0;
  for (const [i, c] of cases.entries()) {
    const xs = (samples[i] as number[]).sort((a, b) => a - b);
    const ns = xs[xs.length >> 1] as number;
    if (i === 0) base = ns;
    const ratio = i === 0 ? '' : `  (${(ns / base).toFixed(1)}x ${cases[0]?.name})`;
    console.log(`${c.name.padEnd(58)} ${ns.toFixed(1).padStart(9)} ns/op${ratio}`);
  }
}

console.log(`leash ctx.err cost on Node ${process.version} (${process.platform}/${process.arch})`);

const [parent] = withCancel(background());
const parentController = new AbortController();
let sink = 0;

function nativeStacklessError(): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new CanceledError();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

await group(
  'derive + cancel a child of a long-lived parent',
  [
    {
      name: 'leash withCancel + cancel',
      run: (n) => {
        for (let i = 0; i < n; i++) withCancel(parent)[1]();
      },
    },
    {
      name: 'leash withCancel + cancel + read ctx.err',
      run: (n) => {
        for (let i = 0; i < n; i++) {
          const [ctx, cancel] = withCancel(parent);
          cancel();
          if (ctx.err !== undefined) sink++;
        }
      },
    },
    {
      name: 'leash ... + read err + isCanceled(err)',
      run: (n) => {
        for (let i = 0; i < n; i++) {
          const [ctx, cancel] = withCancel(parent);
          cancel();
          if (isCanceled(ctx.err)) sink++;
        }
      },
    },
    {
      name: 'weighed: withCancel + cancel + native stack-less error',
      run: (n) => {
        for (let i = 0; i < n; i++) {
          withCancel(parent)[1]();
          if (nativeStacklessError() !== undefined) sink++;
        }
      },
    },
    {
      name: 'native AbortController + listener + abort(reason)',
      ops: 50_000,
      run: (n) => {
        const ps = parentController.signal;
        for (let i = 0; i < n; i++) {
          const child = new AbortController();
          const onAbort = () => child.abort(ps.reason);
          ps.addEventListener('abort', onAbort, { once: true });
          ps.removeEventListener('abort', onAbort);
          child.abort(parent);
          if (child.signal.reason !== undefined) sink++;
        }
      },
    },
  ],
  { ops: 500_000 },
);

await group(
  'withTimeout + cancel (two clock reads: monotonic for the timer, epoch for ctx.deadline)',
  [
    {
      name: 'leash withTimeout + cancel',
      run: (n) => {
        for (let i = 0; i < n; i++) withTimeout(parent, 60_000)[1]();
      },
    },
    {
      name: 'leash withTimeout + cancel + read ctx.err',
      run: (n) => {
        for (let i = 0; i < n; i++) {
          const [ctx, cancel] = withTimeout(parent, 60_000);
          cancel();
          if (ctx.err !== undefined) sink++;
        }
      },
    },
  ],
  { ops: 500_000 },
);

// A subtree cancelled together makes one error, however many of its contexts are read.
await group('cancel a parent with 10 children, read every err', [
  {
    name: 'leash (one error for the subtree)',
    ops: 50_000,
    run: (n) => {
      for (let i = 0; i < n; i++) {
        const [p, cancel] = withCancel(parent);
        const kids = [];
        for (let k = 0; k < 10; k++) kids.push(withCancel(p)[0]);
        cancel();
        for (const k of kids) if (k.err !== undefined) sink++;
      }
    },
  },
]);

if (sink === -1) console.log(sink);
