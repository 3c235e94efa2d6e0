// A small, honest benchmark harness: every case runs in the same process and the same run as its
// peers, warms up, then is measured over several rounds; the median round is reported. Numbers
// from a 2-core shared machine are noisy: compare ratios within one run, not across runs.

export interface Case {
  name: string;
  /** Runs the operation `n` times. */
  run: (n: number) => void | Promise<void>;
  /** Operations per round for this case, when it is much slower than its peers. */
  ops?: number;
}

export interface Result {
  name: string;
  nsPerOp: number;
}

function now(): bigint {
  return process.hrtime.bigint();
}

/** measure runs `c` for about `targetMs` per round and returns the median ns/op over `rounds`. */
export async function measure(c: Case, opts: { ops?: number; rounds?: number } = {}): Promise<Result> {
  const ops = c.ops ?? opts.ops ?? 200_000;
  const rounds = opts.rounds ?? 7;
  await c.run(Math.max(1, Math.floor(ops / 4))); // warm-up: let the JIT settle
  (globalThis as { gc?: () => void }).gc?.();
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = now();
    await c.run(ops);
    const t1 = now();
    samples.push(Number(t1 - t0) / ops);
  }
  samples.sort((a, b) => a - b);
  return { name: c.name, nsPerOp: samples[Math.floor(samples.length / 2)] as number };
}

/** group measures `cases` interleaved (to spread noise evenly) and prints a table with ratios to the first. */
export async function group(
  title: string,
  cases: Case[],
  opts: { ops?: number; rounds?: number; goalNs?: number } = {},
): Promise<Result[]> {
  const results = [];
  for (const c of cases) results.push(await measure(c, opts));
  const base = results[0] as Result;
  console.log(`\n## ${title}`);
  for (const r of results) {
    const ratio =
      r === base
        ? ''
        : `  (${(r.nsPerOp / base.nsPerOp).toFixed(1)}x ${r.nsPerOp >= base.nsPerOp ? 'slower' : 'faster'} than ${base.name})`;
    console.log(`${r.name.padEnd(48)} ${r.nsPerOp.toFixed(1).padStart(10)} ns/op${ratio}`);
  }
  if (opts.goalNs !== undefined) {
    const ok = base.nsPerOp <= opts.goalNs;
    console.log(
      `goal: ${base.name} <= ${opts.goalNs} ns/op: ${ok ? 'met' : `MISSED by ${(base.nsPerOp - opts.goalNs).toFixed(0)} ns`}`,
    );
  }
  return results;
}
