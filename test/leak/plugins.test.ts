import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliPath, leakSites, repoRoot, run } from './corpus-support.js';

// Each plug-in runs against the real runner over the same fixture suite: four passing tests and
// one leaking one, then three concurrent tests of which one leaks. Exactly the two leaking tests
// must fail, each with its own creation line, and no passing test may be charged with them.

const fixtures = join(repoRoot, 'test/leak/fixtures');
const leaking = ['leaks an interval', 'leaks a promise nobody resolves'];

assert.ok(existsSync(cliPath), 'build first: npx tsc -p tsconfig.build.json');

function assertOutcome(results: Array<{ name: string; ok: boolean; failure: string }>, suite: string): void {
  const failed = results.filter((r) => !r.ok).map((r) => r.name);
  assert.deepEqual(failed.sort(), [...leaking].sort(), JSON.stringify(results, null, 1));
  assert.equal(results.filter((r) => r.ok).length, 5);
  const [intervalSite, promiseSite] = leakSites(suite);
  const byName = new Map(results.map((r) => [r.name, r.failure]));
  assert.match(byName.get('leaks an interval')!, new RegExp(`Interval.*\\n\\s+created at ${intervalSite}:`));
  assert.match(
    byName.get('leaks a promise nobody resolves')!,
    new RegExp(`pending.*\\n\\s+created at ${promiseSite}:`),
  );
  for (const r of results)
    assert.equal(r.failure.includes('LeakError') || r.failure.includes('created at'), !r.ok);
}

/** The per-test outcomes of a Jest-format JSON report (Vitest's `--reporter=json` writes the same shape). */
function jsonReportResults(json: string): { name: string; ok: boolean; failure: string }[] {
  const report = JSON.parse(json) as {
    testResults: Array<{
      assertionResults: Array<{ title: string; status: string; failureMessages: string[] }>;
    }>;
  };
  return report.testResults.flatMap((f) =>
    f.assertionResults.map((a) => ({
      name: a.title,
      ok: a.status === 'passed',
      failure: a.failureMessages.join('\n'),
    })),
  );
}

test('node:test plug-in fails exactly the leaking tests', async () => {
  const suite = join(fixtures, 'node-test/suite.test.mjs');
  const { stdout } = await run(process.execPath, ['--test', '--test-reporter=tap', suite]);
  // TAP: "ok N - name" / "not ok N - name", the failure's YAML block follows a "not ok" line.
  const results: Array<{ name: string; ok: boolean; failure: string }> = [];
  const lines = stdout.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)(not ok|ok) \d+ - (.*)$/.exec(lines[i]!);
    if (!m || m[3] === 'concurrent') continue;
    let failure = '';
    for (let j = i + 1; j < lines.length && !/^\s*(not ok|ok) \d+ - /.test(lines[j]!); j++)
      failure += `${lines[j]}\n`;
    results.push({ name: m[3]!, ok: m[2] === 'ok', failure: m[2] === 'ok' ? '' : failure });
  }
  assertOutcome(results, suite);
});

test('Vitest plug-in (setupFiles) fails exactly the leaking tests, also under describe.concurrent', async () => {
  const suite = join(fixtures, 'vitest/suite.test.mjs');
  const { stdout, stderr } = await run(process.execPath, [
    join(repoRoot, 'node_modules/vitest/vitest.mjs'),
    'run',
    '--config',
    join(fixtures, 'vitest/vitest.config.mjs'),
    '--reporter=json',
  ]);
  const results = jsonReportResults(stdout);
  assert.equal(results.length, 7, stderr);
  assertOutcome(results, suite);
});

test('Jest plug-in (setupFilesAfterEnv) fails exactly the leaking tests, also with test.concurrent', async () => {
  const suite = join(fixtures, 'jest/suite.test.mjs');
  const dir = mkdtempSync(join(tmpdir(), 'leash-jest-'));
  try {
    const out = join(dir, 'result.json');
    const { stderr } = await run(process.execPath, [
      '--experimental-vm-modules',
      join(repoRoot, 'node_modules/jest/bin/jest.js'),
      '--config',
      join(fixtures, 'jest/jest.config.mjs'),
      '--json',
      '--outputFile',
      out,
    ]);
    const results = jsonReportResults(readFileSync(out, 'utf8'));
    assert.equal(results.length, 7, stderr);
    assertOutcome(results, suite);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
