// `leash load` against real node:http targets in their own processes, through the built CLI: the
// percentiles of a known service time, a stall that a closed-model tool would hide, the SLA gate
// (a p99 breach, a leak read from the target's debugHandler), and the exit codes of docs/load.md.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'dist', 'leak', 'cli.js');
const fixture = fileURLToPath(new URL('./fixtures/target.mjs', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'leash-load-test-'));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill();
  rmSync(scratch, { recursive: true, force: true });
});

interface Target {
  url: string;
  debugUrl: string;
  stop(): void;
}

function startTarget(mode: string, ms: number): Promise<Target> {
  const child = spawn(process.execPath, [fixture, mode, String(ms)], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`target exited with ${code}`)));
    child.stdout!.on('data', (c: Buffer) => {
      out += c;
      if (!out.includes('\n')) return;
      const t = JSON.parse(out.slice(0, out.indexOf('\n'))) as { url: string; debugUrl: string };
      resolve({ ...t, stop: () => child.stdin!.end() });
    });
  });
}

/** The --json report, as far as these tests read it. */
interface Report {
  requests: number;
  errors: number;
  statuses: Record<string, number>;
  rps: number;
  latencyMs: { p50: number; p90: number; p99: number } & Record<string, number>;
  sendLagMs: { p50: number; p99: number };
  leak: { leakedTasks: number; leakedHandles: number; before: { handles: number } };
  thresholds: Array<{ metric: string; pass: boolean }>;
  pass: boolean;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  report: Report | undefined;
}

let runs = 0;
function load(args: string[]): Promise<Run> {
  const json = join(scratch, `report-${runs++}.json`);
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const child = spawn(process.execPath, [cli, 'load', '--json', json, ...args], { cwd: root, env });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) => {
    child.on('close', (code) => {
      let report: Report | undefined;
      try {
        report = JSON.parse(readFileSync(json, 'utf8'));
      } catch {
        report = undefined;
      }
      resolve({ code, stdout, stderr, report });
    });
  });
}

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

/** The service times the target delivered by its own clock since the last call, sorted (ms). */
async function served(t: Target): Promise<number[]> {
  const r = await fetch(t.url.replace(/\/work$/, '/served'));
  return ((await r.json()) as number[]).sort((a, b) => a - b);
}

const pct = (sorted: number[], p: number) => sorted[Math.ceil((p / 100) * sorted.length) - 1]!;

test('a known 20 ms service time: p50 and p99 within 10%, no errors, the rate held', async (t) => {
  const target = await startTarget('fixed', 20);
  try {
    await served(target);
    // Latency counts from the intended send time (no coordinated omission), so what the tool must
    // match is the service time the target delivered plus how late the generator itself sent, both
    // measured in this run: within 10%, percentile by percentile. On a quiet machine the send lag
    // is a millisecond or two, so this is within ~10% of the service time itself. CI runs this
    // file beside other suites on 2 cores, where another process taking the generator's core
    // delays its reads of the answers too (a p99 of 27.9 ms against 110% of 22.3 + 3.0 ms once):
    // that is the machine, not the tool, so a run that misses is repeated, at most 3 runs, and
    // every run's figures are in the diagnostics. The tolerance is never widened.
    const misses: string[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const r = await load(['--rate', '100', '--duration', '3s', '--warmup', '500ms', target.url]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const rep = r.report!;
      assert.equal(rep.requests, 300);
      assert.equal(rep.errors, 0);
      assert.deepEqual(rep.statuses, { 200: 300 });
      assert.ok(rep.rps > 95 && rep.rps < 105, `answered ${rep.rps}/s at 100/s`);
      const { p50, p99 } = rep.latencyMs;
      const delivered = await served(target);
      const [d50, d99] = [pct(delivered, 50), pct(delivered, 99)];
      const { p50: lag50, p99: lag99 } = rep.sendLagMs;
      const figures = `run ${attempt}: leash load p50 ${p50} p99 ${p99}; target's own clock p50 ${d50.toFixed(2)} p99 ${d99.toFixed(2)}; send lag p50 ${lag50} p99 ${lag99}`;
      t.diagnostic(figures);
      // Never below what the target delivered, in any run: a load tool that reports less than the
      // server's own service time is hiding something.
      assert.ok(
        p50 >= 0.9 * d50 && p99 >= 0.9 * d99 && p50 >= 18 && p99 >= 18,
        `below what the target delivered (${figures})`,
      );
      if (p50 <= 1.1 * (d50 + lag50) && p99 <= 1.1 * (d99 + lag99)) return;
      misses.push(figures);
    }
    assert.fail(
      `leash load's p50 or p99 was above 110% of the target's own clock plus the send lag in 3 runs:\n${misses.join('\n')}`,
    );
  } finally {
    target.stop();
  }
});

test('coordinated omission: a 1 s stall of the target shows in p99, charged to every request it delayed', async (tc) => {
  const t = await startTarget('stall', 5);
  try {
    const r = await load(['--rate', '100', '--duration', '3s', t.url]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const rep = r.report!;
    tc.diagnostic(
      `leash load: p50 ${rep.latencyMs.p50} p90 ${rep.latencyMs.p90} p99 ${rep.latencyMs.p99} ms`,
    );
    // About 100 of the 300 requests were due during the stall: their latencies run from ~1000 ms
    // (due when it began) down to ~0, so p90 and p99 sit far above the 5 ms service time. A
    // closed-model tool stops sending while it waits and records one slow sample per connection.
    assert.ok(rep.latencyMs.p99 > 850, `p99 ${rep.latencyMs.p99} ms does not show the 1 s stall`);
    assert.ok(rep.latencyMs.p90 > 300, `p90 ${rep.latencyMs.p90} ms does not show the stall's queue`);
    assert.ok(rep.latencyMs.p50 < 50, `p50 ${rep.latencyMs.p50} ms: most requests were not delayed`);
    assert.equal(rep.requests, 300);
  } finally {
    t.stop();
  }
  // The same stall measured the closed-model way (one connection, each request sent when the last
  // one was answered, timed from its actual send): the stall is one sample among hundreds and p99
  // stays near the service time. This is what the open model corrects.
  const closed = await startTarget('stall', 5);
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const samples: number[] = [];
    const until = performance.now() + 3000;
    while (performance.now() < until) {
      const t0 = performance.now();
      await new Promise<void>((resolve, reject) =>
        http.get(closed.url, { agent }, (res) => res.resume().on('end', resolve)).on('error', reject),
      );
      samples.push(performance.now() - t0);
    }
    agent.destroy();
    samples.sort((a, b) => a - b);
    tc.diagnostic(
      `closed model: ${samples.length} requests, p99 ${pct(samples, 99).toFixed(1)} ms, max ${samples.at(-1)!.toFixed(0)} ms`,
    );
    assert.ok(samples.at(-1)! > 900, 'the closed loop did meet the stall');
    assert.ok(pct(samples, 99) < 200, `closed-model p99 ${pct(samples, 99)} ms: expected the stall hidden`);
  } finally {
    closed.stop();
  }
});

test('the gate: a p99 breach exits 5 and says which threshold failed', async () => {
  const t = await startTarget('fixed', 20);
  try {
    const r = await load([
      '--rate',
      '50',
      '--duration',
      '1s',
      '--threshold',
      'p99<5',
      '--threshold',
      'errors<1%',
      t.url,
    ]);
    assert.equal(r.code, 5, r.stderr + r.stdout);
    assert.match(r.stdout, /FAIL {2}p99<5 /);
    assert.match(r.stdout, /pass {2}errors<1% /);
    assert.equal(r.report!.pass, false);
    assert.deepEqual(
      r.report!.thresholds.map((x) => [x.metric, x.pass]),
      [
        ['p99', false],
        ['errors', true],
      ],
    );
  } finally {
    t.stop();
  }
});

test('the gate: a target that leaks tasks exits 3, with the counts read from its debug endpoint', async () => {
  const t = await startTarget('leaky', 5);
  try {
    const r = await load([
      '--rate',
      '50',
      '--duration',
      '1s',
      '--settle',
      '300ms',
      '--debug-url',
      t.debugUrl,
      t.url,
    ]);
    assert.equal(r.code, 3, r.stderr + r.stdout);
    const leak = r.report!.leak;
    assert.equal(
      leak.leakedTasks,
      50,
      'one task per request (the reachability probe came before the first reading)',
    );
    assert.match(r.stdout, /50 task\(s\)/);
    assert.match(r.stdout, /\+50 task forgotten at <no stack>/);
  } finally {
    t.stop();
  }
});

test('the gate: the same target without the leak passes with leaked==0 and p99 thresholds', async () => {
  const t = await startTarget('fixed', 5);
  try {
    const r = await load([
      '--rate',
      '50',
      '--duration',
      '1s',
      '--debug-url',
      t.debugUrl,
      '--threshold',
      'leaked==0',
      '--threshold',
      'p99<1s',
      t.url,
    ]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(r.report!.leak.leakedTasks, 0);
    assert.equal(r.report!.leak.leakedHandles, 0);
    assert.ok(r.report!.leak.before.handles > 0);
  } finally {
    t.stop();
  }
});

test('an unknown metric is a usage error (exit 2) naming the metrics, with a did-you-mean', async () => {
  const r = await load(['--threshold', 'p99<250', '--threshold', 'erors<0.01', 'http://127.0.0.1:1/']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown metric "erors"; did you mean errors\?/);
  assert.match(r.stderr, /metrics: p50, .*leaked/);
  assert.equal(r.report, undefined, 'nothing ran');
  const typo = await load(['--rate', '10', '--treshold', 'p99<1', 'http://127.0.0.1:1/']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /unknown option --treshold; did you mean --threshold\?/);
  // Two letters swapped: the did-you-mean still finds the flag.
  const swapped = await load(['--rtae', '5', 'http://127.0.0.1:1/']);
  assert.equal(swapped.code, 2);
  assert.match(swapped.stderr, /^leash load: unknown option --rtae; did you mean --rate\?$/m);
  const swappedEq = await load(['--bdoy=hello', 'http://127.0.0.1:1/']);
  assert.match(swappedEq.stderr, /^leash load: unknown option --bdoy; did you mean --body\?$/m);
  const noDebug = await load(['--threshold', 'leaked==0', 'http://127.0.0.1:1/']);
  assert.equal(noDebug.code, 2);
  assert.match(noDebug.stderr, /needs --debug-url/);
});

test('a value the flags accept but runLoad refuses (connections over 100000) is a usage error, exit 2, not an internal one', async () => {
  const t = await startTarget('fixed', 1);
  try {
    const r = await load(['--duration', '1s', '--connections', '200000', t.url]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /connections must be an integer from 1 to 100000/);
    assert.doesNotMatch(r.stderr, /internal error/);
    const short = await load(['--duration', '0.5ms', t.url]);
    assert.equal(short.code, 2);
    assert.match(short.stderr, /--duration must be at least 1ms/);
  } finally {
    t.stop();
  }
});

test('an unreachable target exits 6 before sending load', async () => {
  const port = await closedPort();
  const r = await load(['--duration', '1s', `http://127.0.0.1:${port}/`]);
  assert.equal(r.code, 6);
  assert.match(r.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+\/: .*ECONNREFUSED/);
  const t = await startTarget('fixed', 1);
  try {
    const d = await load(['--duration', '1s', '--debug-url', `http://127.0.0.1:${port}/debug/leash`, t.url]);
    assert.equal(d.code, 6);
    assert.match(d.stderr, /cannot read the debug endpoint/);
  } finally {
    t.stop();
  }
});

test('--demo drives the repository demo; its leaky variant fails the gate', async () => {
  const ok = await load(['--demo', '--rate', '50', '--duration', '1s']);
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  assert.equal(ok.report!.errors, 0);
  assert.ok(ok.report!.latencyMs.p50 >= 20, 'the demo handler takes 20 to 30 ms');
  const leaky = await load(['--demo=leaky', '--rate', '50', '--duration', '1s', '--settle', '300ms']);
  assert.equal(leaky.code, 3, leaky.stderr + leaky.stdout);
  assert.ok(leaky.report!.leak.leakedTasks >= 5);
  // Where the leaked tasks were born: the demo runs with task stacks on.
  assert.match(leaky.stdout, /\+\d+ task refresh-stock at demo\/load-target\.ts:\d+/);
});
