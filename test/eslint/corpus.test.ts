// The leashjs/eslint plug-in against real code: the leak corpus (every statically visible
// `// LEAK` line is reported, no fixed twin is), and the repository's own src/, demo/ and the
// docs' examples (no report beyond the suppressions documented below, each with its reason).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { allExamples } from '../../scripts/extract-examples.mjs';
import { withLeash } from './repo-config.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const corpus = join(root, 'test/leak-corpus');
const eslint = new ESLint({ cwd: root, overrideConfigFile: true, overrideConfig: withLeash });

/**
 * LEAK lines the plug-in reports on another line, with the reason. The corpus marks the line that
 * creates the leaked work at run time; a linter sees the cause, which can be elsewhere.
 */
const REPORTED_ELSEWHERE: Record<string, { at: string; reason: string }> = {
  'loop.leak.mjs': {
    at: 'for (;;) {',
    reason:
      'the LEAK line is the timer the loop is blocked in at run time (pause() is harmless on its own); the cause, the endless awaiting loop in worker() with no context and no way out, is what loop-checks-context reports',
  },
};

/**
 * LEAK lines no rule reports, with the reason they are not statically visible to a Context linter.
 * Empty when every rule-visible pattern is covered.
 */
const NOT_VISIBLE: Record<string, string> = {};

function leakLines(file: string): number[] {
  return readFileSync(join(corpus, file), 'utf8')
    .split('\n')
    .flatMap((line, i) => (/\/\/ LEAK\s*$/.test(line) ? [i + 1] : []));
}

function lineOf(file: string, text: string): number {
  const i = readFileSync(join(corpus, file), 'utf8')
    .split('\n')
    .findIndex((l) => l.includes(text));
  assert.ok(i >= 0, `${file}: no line contains ${JSON.stringify(text)}`);
  return i + 1;
}

describe('leak corpus', () => {
  const files = readdirSync(corpus).filter((f) => f.endsWith('.mjs') && f !== 'run-main.mjs');

  test('every statically visible LEAK line is reported', async () => {
    const leaks = files.filter((f) => f.endsWith('.leak.mjs'));
    assert.ok(leaks.length >= 8, 'the corpus has its leak programs');
    const results = await eslint.lintFiles(leaks.map((f) => join(corpus, f)));
    const missing: string[] = [];
    let checked = 0;
    for (const r of results) {
      const file = relative(corpus, r.filePath);
      assert.deepEqual(
        r.messages.filter((m) => m.fatal),
        [],
        `${file} parses`,
      );
      const reported = new Set(r.messages.map((m) => m.line));
      for (const line of leakLines(file)) {
        if (NOT_VISIBLE[`${file}:${line}`]) continue;
        const elsewhere = REPORTED_ELSEWHERE[file];
        const want = elsewhere ? lineOf(file, elsewhere.at) : line;
        checked++;
        if (!reported.has(want)) missing.push(`${file}:${want}`);
      }
    }
    assert.deepEqual(missing, [], 'LEAK lines not reported');
    assert.ok(checked >= 5, `checked ${checked} LEAK lines`);
  });

  test('no fixed twin is reported', async () => {
    const fixed = files.filter((f) => f.endsWith('.fixed.mjs'));
    assert.equal(fixed.length, files.filter((f) => f.endsWith('.leak.mjs')).length, 'each leak has its twin');
    const results = await eslint.lintFiles(fixed.map((f) => join(corpus, f)));
    const reports = results.flatMap((r) =>
      r.messages.map((m) => `${relative(corpus, r.filePath)}:${m.line} ${m.ruleId}: ${m.message}`),
    );
    assert.deepEqual(reports, []);
  });
});

/**
 * Reports in the repository's own code that are kept on purpose. Each entry is a file, a rule,
 * how many reports it has there (exactly: a new one fails the test, and so does a fixed one), and why.
 */
const SUPPRESSIONS: Array<{ file: string; rule: string; count: number; reason: string }> = [
  {
    file: 'src/http/request-context.ts',
    rule: 'leash/lost-cancel',
    count: 1,
    reason:
      "the timeout child's cancel is dropped on purpose: its parent `owned` is cancelled when the request ends, which cancels and unlinks the child and stops its timer (one context less per request)",
  },
  {
    file: 'src/pg/statement.ts',
    rule: 'leash/no-race-with-done',
    count: 2,
    reason:
      'the race runs only when ctx is under 50 ms from its deadline (in the Statement and in the promise path it keeps for rare cases), so the reaction left on ctx.done lives at most that long; abortable would reject where this code wants to wait for the deadline',
  },
  {
    file: 'src/context/base-context.ts',
    rule: 'leash/unbounded-wait',
    count: 1,
    reason:
      'the done promise of background() and todo(): a context that is never done has a done promise that never settles, by contract (one shared instance)',
  },
  {
    file: 'src/cache/cache.ts',
    rule: 'leash/no-background-in-request',
    count: 2,
    reason:
      "the Redis tier's lease releases after a load (failed, or with nothing to store) are detached from the caller on purpose (a caller leaving must not keep other processes waiting for the lease) and each is bounded by redisTimeoutMs",
  },
  {
    file: 'src/cache/cache.ts',
    rule: 'leash/context-first',
    count: 1,
    reason:
      "the loader's own context is named loadCtx, to tell it from the first caller's ctx in the same closure",
  },
  ...['leash/no-background-in-request', 'leash/unbounded-wait'].map((rule) => ({
    file: 'demo/load-target.ts',
    rule,
    count: 1,
    reason:
      "the leak `leash load --demo=leaky` must catch: one request in ten starts a background task that waits forever (the gate's leak check is tested against it)",
  })),
  ...[
    ['src/http/express.ts', 1],
    ['src/http/fastify.ts', 1],
    ['src/http/koa.ts', 1],
    ['src/http/node-handler.ts', 1],
    ['src/http/request-context.ts', 2],
  ].map(([file, count]) => ({
    file: file as string,
    rule: 'leash/context-first',
    count: count as number,
    reason:
      "the server-wide root context every request derives from is named `root` (it is first); the rule's default names are ctx and parent",
  })),
  ...[
    ['src/http/request-events.ts', 3],
    ['src/resilience/adaptive-limit.ts', 1],
    ['src/resilience/circuit-breaker.ts', 1],
    ['src/resilience/policy.ts', 7],
    ['src/resilience/work.ts', 7],
    ['src/task/channel.ts', 2],
    ['src/task/registry.ts', 1],
  ].map(([file, count]) => ({
    file: file as string,
    rule: 'leash/context-first',
    count: count as number,
    reason:
      'internal helpers (private methods, constructors, @internal functions not exported from the layer) whose first parameter is the object they act on; no public signature breaks the convention',
  })),
];

/** Reports in the docs' examples that are kept on purpose: the example's code contains `code`. */
const DOC_SUPPRESSIONS: Array<{ file: string; rule: string; code: string; reason: string }> = [
  {
    file: 'docs/resilience.md',
    rule: 'leash/unbounded-wait',
    code: 'new Promise(() => {})',
    reason:
      'the example shows timeout() and fallback() releasing a call that never settles; the stuck call is the point',
  },
  {
    file: 'docs/dashboard.md',
    rule: 'leash/unbounded-wait',
    code: 'jobs.recv(ctx)',
    reason:
      'the example gives the dashboard something to show: a consumer blocked on a channel nobody sends to, found by its creation line',
  },
];

describe('the repository obeys its own rules', () => {
  test('src/ and demo/: no report beyond the documented suppressions', async () => {
    const results = await eslint.lintFiles(['src/**/*.ts', 'demo/**/*.ts']);
    // Test files leak on purpose (never-settling promises, dropped cancels on 1 ms deadlines,
    // races against long-lived promises) to exercise leash's own leak detection: not linted here.
    const counts = new Map<string, number>();
    const lines: string[] = [];
    for (const r of results) {
      const file = relative(root, r.filePath);
      if (/\.test\.ts$|\/test-support\/|\/fixtures\//.test(file)) continue;
      for (const m of r.messages) {
        assert.ok(!m.fatal, `${file}:${m.line} parses: ${m.message}`);
        const key = `${file} ${m.ruleId}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        lines.push(`${file}:${m.line} ${m.ruleId}: ${m.message}`);
      }
    }
    assert.ok(results.length > 50, `linted ${results.length} files`);
    const unexpected: string[] = [];
    for (const [key, n] of counts) {
      const s = SUPPRESSIONS.find((x) => `${x.file} ${x.rule}` === key);
      if (!s || s.count !== n)
        unexpected.push(`${key}: ${n} report(s), ${s ? `${s.count} suppressed` : 'none suppressed'}`);
    }
    for (const s of SUPPRESSIONS) {
      if (!counts.has(`${s.file} ${s.rule}`))
        unexpected.push(`${s.file} ${s.rule}: suppression no longer needed`);
    }
    assert.deepEqual(unexpected, [], lines.join('\n'));
  });

  test("the docs' examples: no report beyond the documented suppressions", async () => {
    const examples = allExamples().filter((e) => !e.skip);
    assert.ok(examples.length > 10, 'examples found');
    const reports: string[] = [];
    for (const ex of examples) {
      const filePath = join(root, 'docs-examples', `${ex.name}.${ex.lang === 'ts' ? 'ts' : 'mjs'}`);
      const [r] = await eslint.lintText(ex.code, { filePath });
      for (const m of r?.messages ?? []) {
        const file = ex.source.split(':')[0];
        if (DOC_SUPPRESSIONS.some((s) => s.file === file && s.rule === m.ruleId && ex.code.includes(s.code)))
          continue;
        reports.push(`${ex.source} (+${m.line}) ${m.ruleId}: ${m.message}`);
      }
    }
    assert.deepEqual(reports, []);
  });
});
