import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cliPath, corpusPrograms, leakSites, repoRoot, run } from './corpus-support.js';

// Each corpus program must be reported by both verifyNone (in-process, goleak-style) and
// `leash doctor` (the built CLI, preloaded into an unmodified program) at every line it marks
// `// LEAK`, and its fixed version must be reported clean by both.

interface Group {
  count: number;
  kind: string;
  state: string;
  site: string;
}

function siteLines(groups: Group[]): string[] {
  return groups.map((g) => g.site.replace(/:\d+$/, ''));
}

/** doctorJson runs `leash doctor --json FILE ...args` and returns its exit code, stderr and the JSON. */
async function doctorJson(args: string[]): Promise<{ code: number | null; stderr: string; json: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'leash-corpus-'));
  try {
    const file = join(dir, 'doctor.json');
    const { code, stderr } = await run(process.execPath, [cliPath, 'doctor', '--json', file, ...args]);
    return { code, stderr, json: existsSync(file) ? readFileSync(file, 'utf8') : '' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const programs = corpusPrograms();
assert.ok(existsSync(cliPath), 'build first: npx tsc -p tsconfig.build.json');
assert.ok(programs.length >= 6, 'the corpus has every pattern of the article');

describe('verifyNone finds every corpus leak at its creation line', { concurrency: 2 }, () => {
  for (const [pattern, leakFile, fixedFile] of programs) {
    test(`${pattern}: leak reported`, async () => {
      const { stdout, stderr } = await run(process.execPath, [
        join(repoRoot, 'test/leak/verify-corpus.mjs'),
        leakFile,
      ]);
      const result = JSON.parse(stdout) as { groups: Group[]; message: string };
      const sites = siteLines(result.groups);
      for (const expected of leakSites(leakFile)) {
        assert.ok(sites.includes(expected), `${expected} not in\n${result.message}\n${stderr}`);
      }
    });
    test(`${pattern}: fixed version clean`, async () => {
      const { stdout, stderr } = await run(process.execPath, [
        join(repoRoot, 'test/leak/verify-corpus.mjs'),
        fixedFile,
      ]);
      const result = JSON.parse(stdout) as { groups: Group[]; message: string };
      assert.equal(result.groups.length, 0, `${result.message}\n${stderr}`);
    });
  }
});

interface Report {
  reason: string;
  leaks: number;
  keepingAlive: Group[];
  abandoned: Group[];
  pendingAtExit: Group[];
  listenerPiles: Group[];
  tasks: Group[];
}

describe('leash doctor finds every corpus leak at its creation line', { concurrency: 2 }, () => {
  for (const [pattern, leakFile, fixedFile] of programs) {
    test(`${pattern}: leak reported, exit code 3 or 4`, async () => {
      const {
        code,
        json: stdout,
        stderr,
      } = await doctorJson(['--timeout', '2500', '--', process.execPath, leakFile]);
      const out = JSON.parse(stdout) as { leaks: number; hung: boolean; reports: Report[] };
      assert.ok(out.leaks > 0, stderr);
      assert.equal(code, out.hung ? 4 : 3);
      const groups = out.reports.flatMap((r) => [
        ...r.keepingAlive,
        ...r.abandoned,
        ...r.pendingAtExit,
        ...r.listenerPiles,
        ...r.tasks,
      ]);
      const sites = siteLines(groups);
      for (const expected of leakSites(leakFile)) {
        assert.ok(sites.includes(expected), `${expected} not in ${JSON.stringify(groups, null, 1)}`);
      }
    });
    test(`${pattern}: fixed version clean, exit code 0`, async () => {
      const {
        code,
        json: stdout,
        stderr,
      } = await doctorJson(['--timeout', '5000', '--', process.execPath, fixedFile]);
      const out = JSON.parse(stdout) as { leaks: number; reports: Report[] };
      assert.equal(out.leaks, 0, `${JSON.stringify(out.reports, null, 1)}\n${stderr}`);
      assert.equal(out.reports.length, 1);
      assert.equal(out.reports[0]!.reason, 'exit');
      assert.equal(code, 0);
    });
  }
});

test('leash doctor prints a grouped human report on stderr and leaves stdout to the program', async () => {
  const { code, stdout, stderr } = await run(process.execPath, [
    cliPath,
    'doctor',
    '--timeout',
    '1500',
    '--',
    process.execPath,
    '-e',
    "console.log('program output'); for (let i = 0; i < 3; i++) setInterval(() => {}, 1000);",
  ]);
  assert.equal(stdout, 'program output\n');
  assert.equal(code, 4);
  assert.match(stderr, /What keeps the process alive \(3\):/);
  assert.match(stderr, /3 × resource Interval \[active\], keeps the process alive/);
});

test('leash doctor: usage errors exit 2, a clean program exits 0', async () => {
  const usage = await run(process.execPath, [cliPath, 'doctor']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /Usage: leash doctor/);
  const clean = await run(process.execPath, [
    cliPath,
    'doctor',
    '--',
    process.execPath,
    '-e',
    'setTimeout(() => {}, 10)',
  ]);
  assert.equal(clean.code, 0, clean.stderr);
  assert.match(clean.stderr, /no leaks/);
});

test('leash doctor tracks child Node processes through NODE_OPTIONS', async () => {
  const childCode =
    'for (let i = 0; i < 2; i++) setInterval(() => {}, 1000); setTimeout(() => process.exit(0), 300);';
  const parent = `require('node:child_process').spawnSync(process.execPath, ['-e', ${JSON.stringify(childCode)}], { stdio: 'inherit' });`;
  const { json: stdout, stderr } = await doctorJson(['--', process.execPath, '-e', parent]);
  const out = JSON.parse(stdout) as { reports: Array<Report & { pid: number; ppid: number }> };
  assert.equal(out.reports.length, 2, stderr);
  const child = out.reports.find((r) => r.keepingAlive.length > 0);
  assert.ok(child, JSON.stringify(out.reports));
  assert.equal(child.keepingAlive[0]!.count, 2);
});
