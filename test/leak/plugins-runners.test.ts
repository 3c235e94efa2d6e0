// The runner plug-ins with the real runners, beyond which test fails (plugins.test.ts):
// - a test that leaks ref'd handles (an interval, a listening server) and never cleans up still lets
//   node --test, Jest and Vitest end the run, with that test failed (leaked handles are unref'd
//   after the report);
// - with leashjs/leak/node-test, TAP `location:` is the user's test file and line;
// - callback-style node:test tests (t, done) type-check under strict TypeScript, run and are checked,
//   and so are Jest's (done);
// - configureLeakCheck rejects unknown keys with a did-you-mean.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { leakSites, repoRoot } from './corpus-support.js';

const fixtures = join(repoRoot, 'test/leak/fixtures');
// Generous: a run that hangs is killed after this, so the test fails instead of hanging too.
const HANG_LIMIT_MS = 90_000;

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** runBounded runs a command in the repo root and kills it if it has not ended after HANG_LIMIT_MS. */
function runBounded(command: string, args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const child = spawn(command, args, { cwd: repoRoot, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), HANG_LIMIT_MS);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** tap splits a TAP stream into per-test results: name, ok, and the YAML block that follows. */
function tap(stdout: string): Array<{ name: string; ok: boolean; block: string }> {
  const lines = stdout.split('\n');
  const out: Array<{ name: string; ok: boolean; block: string }> = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*(not ok|ok) \d+ - (.*)$/.exec(lines[i]!);
    if (!m) continue;
    let block = '';
    for (let j = i + 1; j < lines.length && !/^\s*(not ok|ok) \d+ - /.test(lines[j]!); j++)
      block += `${lines[j]}\n`;
    out.push({ name: m[2]!, ok: m[1] === 'ok', block });
  }
  return out;
}

const hangSuite = join(fixtures, 'hang/node-test.test.mjs');

test('node --test: a test that leaked ref’d handles fails and the run still ends', async () => {
  const r = await runBounded(process.execPath, ['--test', '--test-reporter=tap', hangSuite]);
  assert.equal(r.signal, null, `the run hung\n${r.stdout}`);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const results = tap(r.stdout);
  const leaked = results.find((t) => t.name === 'leaks handles that hold the process');
  assert.ok(leaked && !leaked.ok, r.stdout);
  const [intervalSite, serverSite] = leakSites(hangSuite);
  assert.match(leaked.block, new RegExp(`Interval.*\\n\\s+created at ${intervalSite}:`));
  assert.match(leaked.block, new RegExp(`TCPSERVERWRAP.*\\n\\s+created at ${serverSite}:`));
  assert.ok(results.find((t) => t.name === 'passes')?.ok);
});

test('Jest: a test that leaked ref’d handles fails and the run still ends', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-jest-hang-'));
  try {
    const out = join(dir, 'result.json');
    const r = await runBounded(process.execPath, [
      '--experimental-vm-modules',
      join(repoRoot, 'node_modules/jest/bin/jest.js'),
      '--config',
      join(fixtures, 'hang/jest.config.mjs'),
      '--json',
      '--outputFile',
      out,
    ]);
    assert.equal(r.signal, null, `the run hung\n${r.stderr}`);
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      testResults: Array<{
        assertionResults: Array<{ title: string; status: string; failureMessages: string[] }>;
      }>;
    };
    const byTitle = new Map(report.testResults[0]!.assertionResults.map((a) => [a.title, a]));
    const leaked = byTitle.get('leaks handles that hold the process')!;
    assert.equal(leaked.status, 'failed');
    assert.match(leaked.failureMessages.join('\n'), /TCPSERVERWRAP/);
    assert.equal(byTitle.get('passes')!.status, 'passed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Vitest: a test that leaked ref’d handles fails and the run still ends', async () => {
  const r = await runBounded(process.execPath, [
    join(repoRoot, 'node_modules/vitest/vitest.mjs'),
    'run',
    '--config',
    join(fixtures, 'hang/vitest.config.mjs'),
    '--reporter=json',
  ]);
  assert.equal(r.signal, null, `the run hung\n${r.stderr}`);
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout) as {
    testResults: Array<{ assertionResults: Array<{ title: string; status: string }> }>;
  };
  const statuses = Object.fromEntries(
    report.testResults[0]!.assertionResults.map((a) => [a.title, a.status]),
  );
  assert.deepEqual(statuses, { 'leaks handles that hold the process': 'failed', passes: 'passed' });
});

test('leashjs/leak/node-test: TAP location is the user’s test file and line, not the plug-in’s', async () => {
  const suite = join(fixtures, 'node-test/suite.test.mjs');
  const r = await runBounded(process.execPath, ['--test', '--test-reporter=tap', suite]);
  const lines = readFileSync(suite, 'utf8').split('\n');
  const results = tap(r.stdout);
  // Node 20's TAP reporter prints the location of failed tests only (the two leaking ones).
  const located = results.filter((t) => t.name !== 'concurrent' && /location:/.test(t.block));
  assert.ok(located.filter((t) => !t.ok).length >= 2, r.stdout);
  for (const t of located) {
    const m = /location: '(.*):(\d+):(\d+)'/.exec(t.block);
    assert.ok(m, `${t.name} has a location\n${t.block}`);
    assert.equal(m[1], suite, `${t.name} is located in the test file, not ${m[1]}`);
    const line = lines[Number(m[2]) - 1]!;
    assert.equal(line.slice(Number(m[3]) - 1).startsWith(`test('${t.name}'`), true, `${t.name} at ${line}`);
  }
});

test('callback-style node:test tests (t, done) run and are checked', async () => {
  const suite = join(fixtures, 'node-test/callback.test.mjs');
  const r = await runBounded(process.execPath, ['--test', '--test-reporter=tap', suite]);
  const results = Object.fromEntries(tap(r.stdout).map((t) => [t.name, t]));
  assert.equal(results['callback passes']?.ok, true, r.stdout);
  assert.equal(results['callback leaks an interval']?.ok, false);
  const [site] = leakSites(suite);
  assert.match(
    results['callback leaks an interval']!.block,
    new RegExp(`Interval.*\\n\\s+created at ${site}:`),
  );
  assert.equal(results['callback fails through done']?.ok, false);
  assert.match(results['callback fails through done']!.block, /failed on purpose/);
  assert.equal(r.signal, null);
});

test('callback-style Jest tests (done) run and are checked', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-jest-callback-'));
  try {
    const out = join(dir, 'result.json');
    const r = await runBounded(process.execPath, [
      '--experimental-vm-modules',
      join(repoRoot, 'node_modules/jest/bin/jest.js'),
      '--config',
      join(fixtures, 'jest-callback/jest.config.mjs'),
      '--json',
      '--outputFile',
      out,
    ]);
    assert.equal(r.signal, null, r.stderr);
    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      testResults: Array<{
        assertionResults: Array<{ title: string; status: string; failureMessages: string[] }>;
      }>;
    };
    const byTitle = new Map(report.testResults[0]!.assertionResults.map((a) => [a.title, a]));
    assert.equal(byTitle.get('callback passes')?.status, 'passed', r.stderr);
    const [site] = leakSites(join(fixtures, 'jest-callback/callback.test.mjs'));
    const leaked = byTitle.get('callback leaks an interval')!;
    assert.equal(leaked.status, 'failed');
    assert.match(leaked.failureMessages.join('\n'), new RegExp(`Interval.*\\n\\s+created at ${site}:`));
    const failed = byTitle.get('callback fails through done')!;
    assert.equal(failed.status, 'failed');
    assert.match(failed.failureMessages.join('\n'), /failed on purpose/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('callback-style tests and every test() form type-check under strict TypeScript', async () => {
  const r = await runBounded(process.execPath, [
    join(repoRoot, 'node_modules/typescript/bin/tsc'),
    '--strict',
    '--noEmit',
    '--skipLibCheck',
    'false',
    '--module',
    'nodenext',
    '--moduleResolution',
    'nodenext',
    '--target',
    'es2022',
    '--types',
    'node',
    join(fixtures, 'types/callback.ts'),
  ]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
});

test('configureLeakCheck rejects unknown keys with a did-you-mean, and bad values', async () => {
  const script = `
    const { configureLeakCheck } = await import('leashjs/leak/node-test');
    for (const opts of [{ timeout: 300 }, { timeoutMs: -1 }, { unrefLeaked: 'no' }, 5]) {
      try { configureLeakCheck(opts); console.log('accepted'); }
      catch (e) { console.log(e.code + ' ' + e.message); }
    }`;
  const r = await runBounded(process.execPath, ['--input-type=module', '-e', script]);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 4, r.stdout + r.stderr);
  for (const line of lines) assert.match(line, /^LEASH_ERR_INVALID_ARG configureLeakCheck\(opts\): /);
  assert.match(lines[0]!, /unknown option "timeout"; did you mean "timeoutMs"\?/);
  assert.match(lines[1]!, /timeoutMs must be/);
  assert.match(lines[2]!, /unrefLeaked must be a boolean, got the string "no"/);
  assert.match(lines[3]!, /options must be an object/);
});
