// leashjs/task benchmarks: channels, select, go + join and Group, beside Go (bench/go, measured in
// this run), the promise floor (the same shapes written with bare promises), effection and p-limit.
// Run: npm run build (in the repo root), then in bench/: npm run task
//      npx -y -p node@24 node --expose-gc --import tsx task.bench.ts   (the same on Node 24)
//
// Processes: leash's own cases run in this process. Peers run in child processes of their own
// (effection; p-limit in a process where leash has never been loaded), and so does the
// "no process-wide cost" check, which needs a process that has not awaited anything yet.
// Nothing is imported at the top level except the harness, so a child loads only what it measures.

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

// ---------------------------------------------------------------------------------------------
// The promise floor: the same producer/consumer shapes with the cheapest hand-off promises allow,
// no contexts, no queues of waiters, one sender and one receiver. What leash adds is everything
// above this line; what is left is what an `await` costs on this Node.

const RESOLVED = Promise.resolve();

/** BareChan: a one-sender, one-receiver channel of bare promises (capacity 0 or more). */
class BareChan<T> {
  readonly cap: number;
  buf: T[] = [];
  recvResolve: ((v: T) => void) | undefined = undefined;
  sendResolve: (() => void) | undefined = undefined;
  sendValue: T | undefined = undefined;
  constructor(cap: number) {
    this.cap = cap;
  }
  send(v: T): Promise<void> {
    const r = this.recvResolve;
    if (r !== undefined) {
      this.recvResolve = undefined;
      r(v);
      return RESOLVED;
    }
    if (this.buf.length < this.cap) {
      this.buf.push(v);
      return RESOLVED;
    }
    this.sendValue = v;
    return new Promise((resolve) => {
      this.sendResolve = resolve;
    });
  }
  recv(): Promise<T> {
    if (this.buf.length > 0) {
      const v = this.buf.shift() as T;
      this.#pullSender();
      return Promise.resolve(v);
    }
    const s = this.sendResolve;
    if (s !== undefined) {
      const v = this.sendValue as T;
      this.sendResolve = undefined;
      s();
      return Promise.resolve(v);
    }
    return new Promise((resolve) => {
      this.recvResolve = resolve;
    });
  }
  #pullSender(): void {
    const s = this.sendResolve;
    if (s !== undefined) {
      this.sendResolve = undefined;
      this.buf.push(this.sendValue as T);
      s();
    }
  }
}

async function barePingPong(ch: BareChan<number>, n: number): Promise<void> {
  const producer = (async () => {
    for (let i = 0; i < n; i++) await ch.send(i);
  })();
  let s = 0;
  for (let i = 0; i < n; i++) s = (s + (await ch.recv())) | 0;
  await producer;
  sink = (sink + s) | 0;
}

// Sums wrap at 32 bits: a sum past 2^31 leaves V8's small integers, which deoptimized each case's
// loop once its 100,000 values had summed past it, and made the module-level sink a heap number.
let sink = 0;

const floorCases: Case[] = [
  {
    name: 'floor: bare-promise unbuffered hand-off (no leash)',
    run: (n) => barePingPong(new BareChan(0), n),
  },
  {
    name: 'floor: bare-promise buffered(128) hand-off (no leash)',
    run: (n) => barePingPong(new BareChan(128), n),
  },
  {
    name: 'floor: await (async () => 1)() (an async call + join)',
    run: async (n) => {
      const fn = async () => 1;
      const call = async (f: () => Promise<number>) => await f();
      for (let i = 0; i < n; i++) sink = (sink + (await call(fn))) | 0;
    },
  },
  {
    name: 'control: await Promise.resolve(i) loop',
    run: async (n) => {
      for (let i = 0; i < n; i++) sink = (sink + (await Promise.resolve(i))) | 0;
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Child parts.

// The workload the "no process-wide cost" check runs between its two measurements: every part of
// leashjs/task that could have turned on a hook.
async function useLeash(): Promise<void> {
  const { background, sleep, withTimeout } = await import('leashjs');
  const t = await import('leashjs/task');
  const [ctx, cancel] = withTimeout(background(), 60_000);
  await t.go(ctx, async (ctx) => {
    const ch = new t.Channel<number>();
    const p = t.go(ctx, async (ctx) => {
      for (let i = 0; i < 100; i++) await ch.send(ctx, i);
      ch.close();
    });
    for await (const v of ch.range(ctx)) sink = (sink + v) | 0;
    await p.done;
    const g = new t.Group(ctx, { limit: 2 });
    for (let i = 0; i < 10; i++) g.go((ctx) => sleep(ctx, 0));
    await g.wait();
    const quit = new t.Channel<void>();
    setTimeout(() => quit.close(), 1);
    await t.select(ctx, [{ recv: quit }, { recv: ch }]);
  }).done;
  cancel();
}

async function useAsyncLocalStorage(): Promise<void> {
  const { AsyncLocalStorage } = await import('node:async_hooks');
  const als = new AsyncLocalStorage<number>();
  await als.run(1, async () => {
    await null;
  });
}

const plainAwait: Case = {
  name: 'plain await loop (await Promise.resolve(i))',
  run: async (n) => {
    for (let i = 0; i < n; i++) sink = (sink + (await Promise.resolve(i))) | 0;
  },
};

// A plain async function awaiting another, the shape of most application code.
const plainAsyncCalls: Case = {
  name: 'plain async call chain (await f(i), f awaits once)',
  run: async (n) => {
    const f = async (i: number) => (await Promise.resolve(i)) + 1;
    for (let i = 0; i < n; i++) sink = (sink + (await f(i))) | 0;
  },
};

// One sample of the no-process-wide-cost check: a fresh process runs `use` (leash, nothing, or one
// AsyncLocalStorage.run), then measures the plain loops.
async function taxPart(use: () => Promise<void>): Promise<void> {
  await use();
  childReport(await interleave([plainAwait, plainAsyncCalls], { rounds: 5, ops: 500_000 }));
}

async function effectionPart(): Promise<void> {
  const { createChannel, run, spawn } = await import('effection');
  const results = await interleave(
    [
      {
        name: 'effection createChannel send + subscription.next',
        ops: 50_000,
        run: (n) =>
          run(function* () {
            const ch = createChannel<number, void>();
            const sub = yield* ch;
            yield* spawn(function* () {
              for (let i = 0; i < n; i++) yield* ch.send(i);
            });
            for (let i = 0; i < n; i++) yield* sub.next();
          }),
      },
      {
        name: 'effection yield* spawn(op) + yield* task',
        ops: 5_000,
        run: (n) =>
          run(function* () {
            for (let i = 0; i < n; i++) {
              // biome-ignore lint/correctness/useYield: an operation with nothing to wait for, like the leash fn.
              const t = yield* spawn(function* () {
                return 1;
              });
              yield* t;
            }
          }),
      },
    ],
    { rounds: 5 },
  );
  childReport(results);
}

const TASKS = 10_000;
const work = async () => {
  await null;
};

async function pLimitPart(): Promise<void> {
  const { default: pLimit } = await import('p-limit');
  const results = await interleave(
    [
      {
        name: 'p-limit(16) x10k + Promise.all (no leash in the process)',
        run: async (n) => {
          for (let r = 0; r < n / TASKS; r++) {
            const limit = pLimit(16);
            const ps = new Array<Promise<void>>(TASKS);
            for (let i = 0; i < TASKS; i++) ps[i] = limit(work);
            await Promise.all(ps);
          }
        },
      },
    ],
    { ops: 100_000, rounds: ROUNDS },
  );
  childReport(results);
}

async function groupPart(): Promise<void> {
  const { background } = await import('leashjs');
  const { Group } = await import('leashjs/task');
  const bg = background();
  const results = await interleave(
    [
      {
        name: 'leash Group({ limit: 16 }) go x10k + wait',
        run: async (n) => {
          for (let r = 0; r < n / TASKS; r++) {
            const g = new Group(bg, { limit: 16 });
            for (let i = 0; i < TASKS; i++) g.go(work);
            await g.wait();
          }
        },
      },
    ],
    { ops: 100_000, rounds: ROUNDS },
  );
  childReport(results);
}

// ---------------------------------------------------------------------------------------------
// The main part: leash beside Go and the floor.

async function main(): Promise<void> {
  console.log(
    `leashjs/task benchmarks on Node ${process.version} (${process.platform}/${process.arch}); ` +
      `${ROUNDS} interleaved rounds; CPU ns/op, median [min..max], and the median wall clock`,
  );
  const go1 = runGo(['ChanUnbuffered', 'ChanBuffered128', 'SelectCtx', 'GoJoin']);

  const { background, withCancel } = await import('leashjs');
  const { Channel, go, select } = await import('leashjs/task');
  type Ctx = ReturnType<typeof background>;
  type Ch = InstanceType<typeof Channel<number>>;
  const bg = background();
  const [live] = withCancel(bg); // a cancellable, long-lived context: every blocked op registers on it

  async function pingPong(ch: Ch, ctx: Ctx, n: number): Promise<void> {
    const producer = (async () => {
      for (let i = 0; i < n; i++) await ch.send(ctx, i);
    })();
    let s = 0;
    for (let i = 0; i < n; i++) {
      const r = await ch.recv(ctx);
      if (r.ok) s = (s + r.value) | 0;
    }
    await producer;
    sink = (sink + s) | 0;
  }

  // Producer and consumer are both go() tasks, using their task contexts (so every blocked
  // operation also marks its task's state).
  async function pingPongTasks(ch: Ch, ctx: Ctx, n: number): Promise<void> {
    const producer = go(ctx, async (ctx) => {
      for (let i = 0; i < n; i++) await ch.send(ctx, i);
    });
    const consumer = go(ctx, async (ctx) => {
      let s = 0;
      for (let i = 0; i < n; i++) {
        const r = await ch.recv(ctx);
        if (r.ok) s = (s + r.value) | 0;
      }
      return s;
    });
    await producer.done;
    sink = (sink + (await consumer.done)) | 0;
  }

  async function rangeTasks(ch: Ch, ctx: Ctx, n: number): Promise<void> {
    const producer = go(ctx, async (ctx) => {
      for (let i = 0; i < n; i++) await ch.send(ctx, i);
      ch.close();
    });
    for await (const v of ch.range(ctx)) sink = (sink + v) | 0;
    await producer.done;
  }

  async function selectPingPong(ctx: Ctx, n: number, tasks: boolean): Promise<void> {
    const ch = new Channel<number>();
    const quit = new Channel<void>();
    const produce = async (ctx: Ctx) => {
      for (let i = 0; i < n; i++) await ch.send(ctx, i);
    };
    const consume = async (ctx: Ctx) => {
      for (let i = 0; i < n; i++) {
        const r = await select(ctx, [{ recv: ch }, { recv: quit }]);
        if (r.index === 0 && r.ok) sink = (sink + r.value) | 0;
      }
    };
    if (tasks) await Promise.all([go(ctx, produce).done, go(ctx, consume).done]);
    else await Promise.all([produce(ctx), consume(ctx)]);
  }

  // The same select with its cases built once, before the loop (select neither keeps nor changes
  // them): what the caller's array literal costs, three allocations per select. A copy, not a
  // parameter of selectPingPong: sharing the loop added 57-59 instructions per select in
  // task-instructions.mjs, which counts the same two shapes.
  async function selectPingPongCasesOnce(ctx: Ctx, n: number): Promise<void> {
    const ch = new Channel<number>();
    const quit = new Channel<void>();
    const cases = [{ recv: ch }, { recv: quit }] as const;
    const produce = async (ctx: Ctx) => {
      for (let i = 0; i < n; i++) await ch.send(ctx, i);
    };
    const consume = async (ctx: Ctx) => {
      for (let i = 0; i < n; i++) {
        const r = await select(ctx, cases);
        if (r.index === 0 && r.ok) sink = (sink + r.value) | 0;
      }
    };
    await Promise.all([produce(ctx), consume(ctx)]);
  }

  const noop = async () => 1;
  const leashCases: Case[] = [
    { name: 'leash unbuffered send+recv, top level, ctx live', run: (n) => pingPong(new Channel(), live, n) },
    {
      name: 'leash unbuffered send+recv, in go() tasks, ctx live',
      run: (n) => pingPongTasks(new Channel(), live, n),
    },
    {
      name: 'leash unbuffered send+recv, top level, ctx background',
      run: (n) => pingPong(new Channel(), bg, n),
    },
    {
      name: 'leash buffered(128) send+recv, top level, ctx live',
      run: (n) => pingPong(new Channel(128), live, n),
    },
    {
      name: 'leash buffered(128) send+recv, in go() tasks, ctx live',
      run: (n) => pingPongTasks(new Channel(128), live, n),
    },
    {
      name: 'leash buffered(128) send + for-await range, in a task',
      run: (n) => rangeTasks(new Channel(128), live, n),
    },
    {
      name: 'leash select(ctx live, [recv ch, recv quit]), top level',
      run: (n) => selectPingPong(live, n, false),
    },
    {
      name: 'leash select(ctx live, [recv ch, recv quit]), in go() tasks',
      run: (n) => selectPingPong(live, n, true),
    },
    {
      name: 'leash select(ctx live, cases built once before the loop), top level',
      run: (n) => selectPingPongCasesOnce(live, n),
    },
    {
      name: 'leash await go(ctx background, fn).done, top level',
      ops: 100_000,
      run: async (n) => {
        for (let i = 0; i < n; i++) sink = (sink + (await go(bg, noop).done)) | 0;
      },
    },
    {
      name: 'leash await go(ctx live, fn).done, inside a go() task',
      ops: 100_000,
      run: (n) =>
        go(live, async (ctx) => {
          for (let i = 0; i < n; i++) sink = (sink + (await go(ctx, noop).done)) | 0;
        }).done,
    },
  ];
  const all = await interleave([...leashCases, ...floorCases], { rounds: ROUNDS });
  const go2 = runGo(['ChanUnbuffered', 'ChanBuffered128', 'SelectCtx', 'GoJoin']);
  const goFigs: GoFigures | undefined = mergeGo(go1, go2);
  printGo(goFigs);

  const by = (prefix: string) => all.find((r) => r.name.startsWith(prefix))!;
  const [floorUnbuf, floorBuf, floorJoin, control] = [
    by('floor: bare-promise unbuffered'),
    by('floor: bare-promise buffered'),
    by('floor: await (async'),
    by('control:'),
  ];
  const goNs = (k: keyof GoFigures) => goFigs?.[k]?.ns;

  header('channels, select, go + join: leash beside Go and the promise floor (one interleaved run)');
  for (const r of [floorUnbuf, floorBuf, floorJoin, control]) row(r);
  // One verdict per row, by the goal's rule: at most 1.5x Go, or, where the floor itself is above
  // 1.5x Go (an await is not free), at most 1.2x the floor. Without Go, only the floor's bound.
  const goalRow = (r: Result, goKey: keyof GoFigures, floor: Result) => {
    const g = goNs(goKey);
    let rule = '<= 1.5x Go';
    let met = g !== undefined && r.nsPerOp / g <= 1.5;
    if (g === undefined || floor.nsPerOp / g > 1.5) {
      rule = g === undefined ? '<= 1.2x floor, no Go figure' : '<= 1.2x floor, the floor being above 1.5x Go';
      met = r.nsPerOp / floor.nsPerOp <= 1.2;
    }
    row(
      r,
      ...(g === undefined ? [] : [ratio(r, g, `Go ${goKey}`)]),
      ratio(r, floor.nsPerOp, 'floor'),
      `(goal ${rule}: ${met ? 'met' : 'MISSED'})`,
    );
  };
  for (const r of all.slice(0, leashCases.length)) {
    if (r.name.includes('unbuffered')) goalRow(r, 'ChanUnbuffered', floorUnbuf);
    else if (r.name.includes('buffered(128)')) goalRow(r, 'ChanBuffered128', floorBuf);
    else if (r.name.includes('select')) goalRow(r, 'SelectCtx', floorUnbuf);
    else goalRow(r, 'GoJoin', floorJoin);
  }
  const gu = goNs('ChanUnbuffered');
  if (gu !== undefined)
    console.log(
      `the floor itself: unbuffered ${ratio(floorUnbuf, gu, 'Go')}, buffered ${ratio(floorBuf, goNs('ChanBuffered128')!, 'Go')}, ` +
        `async call + join ${ratio(floorJoin, goNs('GoJoin')!, 'Go')}: where the floor is above 1.5x Go, ` +
        "the goal is 1.2x the floor (an await is not free; Go's hand-off is a goroutine switch)",
    );

  header('peers, each in its own process');
  const eff = inChild(import.meta.url, 'effection');
  const leashUnbuf = all[0]!;
  const leashJoin = by('leash await go(ctx background');
  row(
    eff[0]!,
    `leash unbuffered is ${(eff[0]!.nsPerOp / leashUnbuf.nsPerOp).toFixed(1)}x faster (goal >= 3x)`,
  );
  row(eff[1]!, `leash go + join is ${(eff[1]!.nsPerOp / leashJoin.nsPerOp).toFixed(1)}x faster (goal >= 3x)`);

  // Group and p-limit each in a fresh process, alternated three times: neither runs where the
  // other (or leash's channel cases) ran, and noise spreads over both.
  const groupRuns: Result[] = [];
  const pLimitRuns: Result[] = [];
  for (let i = 0; i < 3; i++) {
    groupRuns.push(inChild<Result[]>(import.meta.url, 'group')[0]!);
    pLimitRuns.push(inChild<Result[]>(import.meta.url, 'plimit')[0]!);
  }
  const mid = (rs: Result[]) => [...rs].sort((a, b) => a.nsPerOp - b.nsPerOp)[1]!;
  const g = mid(groupRuns);
  const p = mid(pLimitRuns);
  console.log(`${TASKS} tasks under a concurrency limit of 16 (ns per task; median of 3 processes):`);
  row(g);
  row(p);
  console.log(
    `Group vs p-limit: ${(p.nsPerOp / g.nsPerOp).toFixed(2)}x ${p.nsPerOp >= g.nsPerOp ? '(goal >= 1x: met)' : '(goal >= 1x: MISSED)'}`,
  );

  header('no process-wide cost: plain awaits in fresh processes that used leashjs/task first, or not');
  // Processes of the three kinds alternate, five of each, so that the machine's load drifts over
  // all of them alike; each figure is the median over its five processes.
  const kinds = ['tax-none', 'tax-leash', 'tax-als'] as const;
  const runs = new Map<string, Result[][]>(kinds.map((k) => [k, []]));
  for (let i = 0; i < 5; i++) for (const k of kinds) runs.get(k)!.push(inChild<Result[]>(import.meta.url, k));
  const med = (k: string, i: number) => {
    const xs = runs
      .get(k)!
      .map((rs) => rs[i]!.nsPerOp)
      .sort((a, b) => a - b);
    return xs[2]!;
  };
  for (let i = 0; i < 2; i++) {
    const name = runs.get('tax-none')![0]![i]!.name;
    const none = med('tax-none', i);
    const leash = med('tax-leash', i);
    const als = med('tax-als', i);
    const x = leash / none;
    console.log(
      `${name}: no leash ${none.toFixed(1)} ns; after go, Group, channels, range, select ${leash.toFixed(1)} ns ` +
        `(${x.toFixed(2)}x, goal: the same within noise, <= 1.1x: ${x <= 1.1 ? 'met' : 'MISSED'}); ` +
        `control, after one AsyncLocalStorage.run ${als.toFixed(1)} ns (${(als / none).toFixed(2)}x)`,
    );
  }
  if (sink === -1) console.log(sink);
}

switch (part) {
  case undefined:
    await main();
    break;
  case 'effection':
    await effectionPart();
    break;
  case 'plimit':
    await pLimitPart();
    break;
  case 'group':
    await groupPart();
    break;
  case 'tax-leash':
    await taxPart(useLeash);
    break;
  case 'tax-none':
    await taxPart(async () => {});
    break;
  case 'tax-als':
    await taxPart(useAsyncLocalStorage);
    break;
  default:
    throw new Error(`unknown part ${part}`);
}
