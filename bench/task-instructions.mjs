// Machine instructions per channel hand-off, counted with valgrind: a measure that does not move
// with the machine's load, for comparing two versions of the hand-off path (bench/task.bench.ts
// measures time, whose run-to-run spread on a shared machine is larger than most single changes).
//
// `node --predictable --single-threaded` makes V8 deterministic (no concurrent compiler or GC
// threads, fixed heuristics), so the same build counts the same instructions in every run; the
// count includes the garbage collection the operations cause. Each case runs twice, with 1,000 and
// with 101,000 measured operations after the same warm-up (two runs of 50,000), and the difference divided by 100,000
// is the per-operation figure (start-up, warm-up and compilation cancel out). Instructions are
// not time (memory stalls differ), so use this to compare builds, and task.bench.ts for time.
//
// Usage (Linux, valgrind installed: `apt-get install valgrind`; build the package first):
//   cd bench && node task-instructions.mjs
//   node task-instructions.mjs --case=leash-top   (one case)
import { fileURLToPath } from 'node:url';
import { countInstructions, valgrindVersion } from './valgrind-instructions.mjs';

const CASES = {
  'floor-bare': 'bare-promise unbuffered hand-off, receive resolves the value',
  'floor-result': 'bare-promise unbuffered hand-off, receive resolves { value, ok }',
  'leash-top': 'leash unbuffered send + recv, top level, ctx cancellable',
  'leash-tasks': 'leash unbuffered send + recv, both sides go() tasks, ctx cancellable',
  'leash-select': 'leash send + select(ctx, [recv ch, recv quit]), top level, ctx cancellable',
  'leash-select-once': 'the same select, its cases built once before the loop',
};

const args = process.argv.slice(2);
const child = args.find((a) => a.startsWith('--child='))?.slice(8);

if (child !== undefined) {
  const n = Number(args.find((a) => a.startsWith('--n='))?.slice(4));
  await runChild(child, n);
} else {
  const only = args.find((a) => a.startsWith('--case='))?.slice(7);
  const valgrind = valgrindVersion();
  if (valgrind === undefined) {
    console.log(
      'valgrind is not installed: apt-get install valgrind (this bench counts instructions with it)',
    );
    process.exit(0);
  }
  console.log(`Machine instructions per operation (${valgrind}, Node ${process.version}, --predictable)`);
  for (const [name, label] of Object.entries(CASES)) {
    if (only !== undefined && only !== name) continue;
    const small = countInstructions(fileURLToPath(import.meta.url), name, 1_000);
    const large = countInstructions(fileURLToPath(import.meta.url), name, 101_000);
    console.log(`${label.padEnd(72)} ${((large - small) / 100_000).toFixed(0).padStart(6)}`);
  }
}

async function runChild(name, n) {
  const { background, withCancel } = await import('leashjs');
  const { Channel, go, select } = await import('leashjs/task');
  const [live] = withCancel(background());
  // Sums wrap at 32 bits: a sum past 2^31 leaves V8's small integers, which deoptimized the loop in
  // the large count only (101,000 values sum past it; the warm-up's 50,000 do not).
  let sink = 0;

  class BareChan {
    sendResolve = undefined;
    sendValue = undefined;
    recvResolve = undefined;
    constructor(result) {
      this.result = result;
    }
    send(v) {
      const r = this.recvResolve;
      if (r !== undefined) {
        this.recvResolve = undefined;
        r(this.result ? { value: v, ok: true } : v);
        return Promise.resolve();
      }
      return new Promise((resolve) => {
        this.sendValue = v;
        this.sendResolve = resolve;
      });
    }
    recv() {
      const s = this.sendResolve;
      if (s !== undefined) {
        const v = this.sendValue;
        this.sendResolve = undefined;
        s();
        return Promise.resolve(this.result ? { value: v, ok: true } : v);
      }
      return new Promise((resolve) => {
        this.recvResolve = resolve;
      });
    }
  }

  async function bare(n, result) {
    const ch = new BareChan(result);
    const p = (async () => {
      for (let i = 0; i < n; i++) await ch.send(i);
    })();
    let s = 0;
    for (let i = 0; i < n; i++) {
      const r = await ch.recv();
      s = (s + (result ? r.value : r)) | 0;
    }
    await p;
    sink = (sink + s) | 0;
  }

  async function top(n) {
    const ch = new Channel();
    const p = (async () => {
      for (let i = 0; i < n; i++) await ch.send(live, i);
    })();
    let s = 0;
    for (let i = 0; i < n; i++) {
      const r = await ch.recv(live);
      if (r.ok) s = (s + r.value) | 0;
    }
    await p;
    sink = (sink + s) | 0;
  }

  async function tasks(n) {
    const ch = new Channel();
    const p = go(live, async (ctx) => {
      for (let i = 0; i < n; i++) await ch.send(ctx, i);
    });
    const c = go(live, async (ctx) => {
      let s = 0;
      for (let i = 0; i < n; i++) {
        const r = await ch.recv(ctx);
        if (r.ok) s = (s + r.value) | 0;
      }
      return s;
    });
    await p.done;
    sink = (sink + (await c.done)) | 0;
  }

  async function selectTop(n) {
    const ch = new Channel();
    const quit = new Channel();
    const p = (async () => {
      for (let i = 0; i < n; i++) await ch.send(live, i);
    })();
    let s = 0;
    for (let i = 0; i < n; i++) {
      const r = await select(live, [{ recv: ch }, { recv: quit }]);
      if (r.index === 0 && r.ok) s = (s + r.value) | 0;
    }
    await p;
    sink = (sink + s) | 0;
  }

  // A copy of selectTop with the cases built once, not a parameter of it: sharing the loop (cases
  // `once ?? [literal]`) added 57-59 instructions to every select this bench counts.
  async function selectOnce(n) {
    const ch = new Channel();
    const quit = new Channel();
    const cases = [{ recv: ch }, { recv: quit }];
    const p = (async () => {
      for (let i = 0; i < n; i++) await ch.send(live, i);
    })();
    let s = 0;
    for (let i = 0; i < n; i++) {
      const r = await select(live, cases);
      if (r.index === 0 && r.ok) s = (s + r.value) | 0;
    }
    await p;
    sink = (sink + s) | 0;
  }

  const run = {
    'floor-bare': (n) => bare(n, false),
    'floor-result': (n) => bare(n, true),
    'leash-top': top,
    'leash-tasks': tasks,
    'leash-select': selectTop,
    'leash-select-once': selectOnce,
  }[name];
  if (run === undefined) throw new Error(`unknown case ${name}; one of ${Object.keys(CASES).join(', ')}`);
  // Warm-up, the same for both counts, in two runs: the end of a run (its tasks settle) and the start
  // of the next (new tasks, new contexts) take paths the steady state does not, and V8 recompiles
  // what they deoptimize. With one warm-up run that recompilation fell in the measured window, in
  // the large count only (the small one ends before V8 optimizes again): a callgrind profile put 300-800 of
  // the instructions per hand-off in TurboFan's compiler.
  await run(50_000);
  await run(50_000);
  await run(n);
  if (sink === -1) console.log(sink);
}
