// leashjs/task benchmarks: channels, select, go + join and Group against effection, p-limit and the
// Go 1.19 figures measured on these machines (runtime chan/select benchmarks, errgroup).
// Run: npx tsc -p tsconfig.build.json (in the repo root), then in bench/:
//   node --expose-gc --import tsx task.bench.ts
//
// On Node 20, AsyncLocalStorage (which `go` uses to find a task's parent) installs a promise hook
// the first time it is used, and from then on every promise in the process costs more. So the
// channel cases run twice: first before any task exists (hook idle), then inside tasks (hook on,
// as in a program that uses `go`). On Node 24 AsyncLocalStorage has no hook and both agree.
import { createChannel, run, spawn } from 'effection';
import { background, withCancel } from 'leashjs';
import { Channel, Group, go, select } from 'leashjs/task';
import pLimit from 'p-limit';
import { type Case, group, measure, type Result } from './harness.js';

console.log(`leashjs/task benchmarks on Node ${process.version} (${process.platform}/${process.arch})`);

const GO = { unbuffered: 220, buffered: 100, select: 350, spawn: 490 };
const bg = background();
const [live] = withCancel(bg); // a cancellable, long-lived context: every blocked op registers on it

function goRatio(r: Result, goNs: number): void {
  const x = r.nsPerOp / goNs;
  console.log(
    `vs Go 1.19 (${goNs} ns): ${x.toFixed(2)}x ${x <= 2 ? '(goal <= 2x: met)' : '(goal <= 2x: MISSED)'}`,
  );
}

function effectionGoal(leash: Result, effection: Result): void {
  const x = effection.nsPerOp / leash.nsPerOp;
  console.log(
    `vs effection: ${x.toFixed(1)}x faster ${x >= 3 ? '(goal >= 3x: met)' : '(goal >= 3x: MISSED)'}`,
  );
}

// A producer and a consumer exchanging n values over `ch`; returns when both are done.
async function pingPong(ch: Channel<number>, ctx: typeof bg, n: number): Promise<void> {
  const producer = (async () => {
    for (let i = 0; i < n; i++) await ch.send(ctx, i);
  })();
  for (let i = 0; i < n; i++) await ch.recv(ctx);
  await producer;
}

async function selectPingPong(ctx: typeof bg, n: number): Promise<void> {
  const ch = new Channel<number>();
  const quit = new Channel<void>();
  const producer = (async () => {
    for (let i = 0; i < n; i++) await ch.send(ctx, i);
  })();
  for (let i = 0; i < n; i++) await select(ctx, [{ recv: ch }, { recv: quit }]);
  await producer;
}

const effectionChannel: Case = {
  name: 'effection createChannel send + subscription.next',
  run: (n) =>
    run(function* () {
      const ch = createChannel<number, void>();
      const sub = yield* ch;
      yield* spawn(function* () {
        for (let i = 0; i < n; i++) yield* ch.send(i);
      });
      for (let i = 0; i < n; i++) yield* sub.next();
    }),
};

function channelCases(label: string, wrap: (body: () => Promise<void>) => Promise<void>): Case[] {
  return [
    {
      name: `${label} unbuffered send+recv, ctx ${'live'}`,
      run: (n) => wrap(() => pingPong(new Channel<number>(), live, n)),
    },
    {
      name: `${label} unbuffered send+recv, ctx background`,
      run: (n) => wrap(() => pingPong(new Channel<number>(), bg, n)),
    },
    {
      name: `${label} buffered(128) send+recv, ctx live`,
      run: (n) => wrap(() => pingPong(new Channel<number>(128), live, n)),
    },
    {
      name: `${label} select(ctx, 2 recv cases), ctx live`,
      run: (n) => wrap(() => selectPingPong(live, n)),
    },
  ];
}

// The control for the Node 20 hook cost: no leash at all, one promise resolved and awaited per op.
// It is measured in both phases; the difference is what AsyncLocalStorage's hook adds to any await.
const promisePingPong: Case = {
  name: 'control, no leash: new Promise + resolve + await',
  run: async (n) => {
    for (let i = 0; i < n; i++) {
      let resolve!: () => void;
      const p = new Promise<void>((r) => (resolve = r));
      resolve();
      await p;
    }
  },
};

const direct = (body: () => Promise<void>) => body();
const inTask = (body: () => Promise<void>) => go(bg, () => body()).done;

const phase1 = await group('channels, AsyncLocalStorage idle (no task started yet)', [
  ...channelCases('leashjs', direct),
  effectionChannel,
  promisePingPong,
]);
goRatio(phase1[0]!, GO.unbuffered);
goRatio(phase1[2]!, GO.buffered);
goRatio(phase1[3]!, GO.select);
effectionGoal(phase1[0]!, phase1[4]!);
effectionGoal(phase1[2]!, phase1[4]!);

const phase2 = await group('channels inside go() tasks (AsyncLocalStorage active)', [
  ...channelCases('leash (in task)', inTask),
  effectionChannel,
  promisePingPong,
]);
goRatio(phase2[0]!, GO.unbuffered);
goRatio(phase2[2]!, GO.buffered);
goRatio(phase2[3]!, GO.select);
effectionGoal(phase2[0]!, phase2[4]!);

const noop = async () => 1;
const spawnResults = await group(
  'spawn + join',
  [
    {
      name: 'leash await go(ctx, fn).done',
      run: async (n) => {
        for (let i = 0; i < n; i++) await go(bg, noop).done;
      },
    },
    {
      name: 'leash await go(ctx, fn).done, ctx live',
      run: async (n) => {
        for (let i = 0; i < n; i++) await go(live, noop).done;
      },
    },
  ],
  { ops: 100_000 },
);
// effection's spawn costs about 100 µs here, so it gets fewer operations to keep the run short.
const effectionSpawn = await measure(
  {
    name: 'effection yield* spawn(op) + yield* task',
    run: (n) =>
      run(function* () {
        for (let i = 0; i < n; i++) {
          // biome-ignore lint/correctness/useYield: an effection operation with nothing to wait for, like the leash fn.
          const t = yield* spawn(function* () {
            return 1;
          });
          yield* t;
        }
      }),
  },
  { ops: 5_000, rounds: 3 },
);
console.log(`${effectionSpawn.name.padEnd(48)} ${effectionSpawn.nsPerOp.toFixed(1).padStart(10)} ns/op`);
goRatio(spawnResults[0]!, GO.spawn);
effectionGoal(spawnResults[0]!, effectionSpawn);

const TASKS = 10_000;
const work = async () => {
  await null;
};
const limitResults = await group(
  `${TASKS} tasks, concurrency limit 16 (per task)`,
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
    {
      name: 'p-limit(16) x10k + Promise.all',
      run: async (n) => {
        for (let r = 0; r < n / TASKS; r++) {
          const limit = pLimit(16);
          const ps = new Array<Promise<void>>(TASKS);
          for (let i = 0; i < TASKS; i++) ps[i] = limit(work);
          await Promise.all(ps);
        }
      },
    },
    {
      name: 'leash Group (no limit) go x10k + wait',
      run: async (n) => {
        for (let r = 0; r < n / TASKS; r++) {
          const g = new Group(bg);
          for (let i = 0; i < TASKS; i++) g.go(work);
          await g.wait();
        }
      },
    },
  ],
  { ops: 100_000 },
);
const vsPLimit = limitResults[1]!.nsPerOp / limitResults[0]!.nsPerOp;
console.log(
  `Group vs p-limit: ${vsPLimit.toFixed(2)}x ${vsPLimit >= 1 ? '(goal >= 1x: met)' : '(goal >= 1x: MISSED)'}`,
);
