// leashjs/chaos: what chaos costs a call it leaves alone, and what a decision costs. There is no
// in-process fault injector for Node to run beside it (ChaosBlade has no Node executor, toxiproxy is
// a TCP proxy), so the references are the bare call and leash's own timeout() policy, in the same run.
// Run: in bench/: npm run chaos   (ROUNDS=n to change the rounds; the leash cases import the source
// through tsx, so the bench measures the working tree without a build).
import { chaos, chaosController } from '../src/chaos/index.js';
import { background, type Context, withCancel } from '../src/context/index.js';
import { timeout } from '../src/resilience/index.js';
import { fmt, header, interleave, type Result } from './harness.js';

const ROUNDS = Number(process.env.ROUNDS ?? 11);
const RESOLVED = Promise.resolve(1);
const ok = (): Promise<number> => RESOLVED;
let sink = 0;
const [ctx] = withCancel(background()) as [Context, () => void];

function seq(call: () => Promise<unknown>): (n: number) => Promise<void> {
  return async (n) => {
    for (let i = 0; i < n; i++) sink += ((await call()) as number) ?? 0;
  };
}

function table(title: string, results: Result[]): void {
  header(title);
  const base = results[0] as Result;
  for (const r of results) {
    const rel = r === base ? '' : `  ${(r.nsPerOp / base.nsPerOp).toFixed(2)}x ${base.name}`;
    console.log(`${r.name.padEnd(60)} ${fmt(r)}${rel}`);
  }
}

const faults = [{ type: 'latency' as const, probability: 0.5, ms: 0 }];
const off = chaosController({ seed: 1, enabled: false, faults });
const outside = chaosController({ seed: 1, target: { header: 'x-leash-chaos' }, faults });
const none = chaosController({ seed: 1, faults: [{ type: 'error', probability: 0 }] });
const half = chaosController({ seed: 1, faults: [{ type: 'error', probability: 0.5 }] });

const decisions = await interleave(
  [
    { name: 'disabled controller: decide(ctx)', run: (n) => void loop(n, () => off.decide(ctx)) },
    {
      name: 'outside the radius (no header): decide(ctx, {})',
      run: (n) => void loop(n, () => outside.decide(ctx, {})),
    },
    { name: 'in the radius, no fault drawn: decide(ctx)', run: (n) => void loop(n, () => none.decide(ctx)) },
    {
      name: 'in the radius, error drawn half the time: decide(ctx)',
      run: (n) => void loop(n, () => half.decide(ctx)),
    },
  ],
  { rounds: ROUNDS },
);
table('one decision', decisions);

const offPolicy = chaos(off);
const nonePolicy = chaos(none);
const t = timeout(1_000);
const calls = await interleave(
  [
    { name: 'bare await fn() (floor)', run: seq(ok) },
    { name: 'chaos(disabled).execute(ctx, fn)', run: seq(() => offPolicy.execute(ctx, ok)) },
    {
      name: 'chaos(in radius, no fault drawn).execute(ctx, fn)',
      run: seq(() => nonePolicy.execute(ctx, ok)),
    },
    { name: 'leash timeout(1000).execute(ctx, fn) (reference policy)', run: seq(() => t.execute(ctx, ok)) },
  ],
  { rounds: ROUNDS },
);
table('a call chaos leaves alone, awaited one after another', calls);
if (sink < 0) console.log(sink);

function loop(n: number, f: () => unknown): void {
  for (let i = 0; i < n; i++) if (f() !== undefined) sink++;
}
