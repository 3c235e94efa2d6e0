// verifyNone under runners whose await chain is user-land code (issue 9): mocha 12, uvu 0.5 and a
// ten-line hand-written harness. Each fixture has a clean test (must pass, without waiting for
// the runner's own pending promises or mocha's timeout timer) and a leaking one (must still fail,
// naming the test's own lines). Run as child processes against the built package: npm run build.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { repoRoot, run } from './corpus-support.js';

const fixtures = join(repoRoot, 'test', 'leak', 'fixtures', 'runners');

// "test/leak/fixtures/runners/x.mjs:LINE" for each line marked `// LEAK`.
function marked(file: string): string[] {
  const rel = relative(repoRoot, file);
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line, i) => (line.includes('// LEAK') ? [`${rel}:${i + 1}:`] : []));
}

function assertReportsOnly(message: string, file: string): void {
  assert.match(message, /2 leaked items in 2 groups/, message);
  for (const site of marked(file))
    assert.ok(message.includes(`created at ${site}`), `${site} in\n${message}`);
  assert.doesNotMatch(message, /created at node_modules/, 'nothing of the runner is reported');
}

test('a hand-written harness: the clean test passes, the leaking one names its lines', async () => {
  const file = join(fixtures, 'harness.mjs');
  const { code, stdout, stderr } = await run(process.execPath, [file]);
  assert.match(stdout, /^ok clean/m, stdout + stderr);
  assert.match(stdout, /^not ok leaks/m, stdout + stderr);
  assertReportsOnly(stdout.slice(stdout.indexOf('not ok leaks')), file);
  assert.equal(code, 1);
});

test('mocha: the clean test passes without a timeout, the leaking one names its lines', async () => {
  const file = join(fixtures, 'mocha.test.mjs');
  const mocha = join(repoRoot, 'node_modules', 'mocha', 'bin', 'mocha.js');
  const { stdout, stderr } = await run(process.execPath, [mocha, '--reporter', 'json', file]);
  const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as {
    passes: Array<{ title: string }>;
    failures: Array<{ title: string; err: { message: string } }>;
  };
  assert.deepEqual(
    report.passes.map((t) => t.title),
    ['clean'],
    stderr + JSON.stringify(report.failures, null, 2),
  );
  assert.deepEqual(
    report.failures.map((t) => t.title),
    ['leaks'],
  );
  const message = report.failures[0]!.err.message;
  assert.doesNotMatch(message, /Timeout of/);
  assertReportsOnly(message, file);
});

test('uvu: the clean test passes, the leaking one names its lines', async () => {
  const file = join(fixtures, 'uvu.test.mjs');
  const { code, stdout, stderr } = await run(process.execPath, [file]);
  assert.match(stdout, /Passed:\s+1\b/, stdout + stderr);
  assert.match(stdout, /FAIL\s+"leaks"/);
  assert.doesNotMatch(stdout, /FAIL\s+"clean"/);
  assertReportsOnly(stdout.slice(stdout.indexOf('FAIL')), file);
  assert.equal(code, 1);
});
