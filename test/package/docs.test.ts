// The README and docs/ as a stranger reads them, checked on every test run (issue 8). The examples
// themselves run against the packed package in `npm run check:examples` (scripts/check-package.mjs);
// this file keeps the cheap promises: every example is either runnable or says why not, links
// resolve inside the repository and the installed package, nothing cites a file outside the
// repository, and every subpath export is documented.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { allExamples, markdownFiles } from '../../scripts/extract-examples.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (rel: string) => readFileSync(join(root, rel), 'utf8');
const docs: string[] = markdownFiles();
const pkg = JSON.parse(read('package.json')) as {
  name: string;
  exports: Record<string, unknown>;
  files: string[];
};

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(join(root, dir))) {
    const rel = `${dir}/${name}`;
    if (statSync(join(root, rel)).isDirectory()) walk(rel, out);
    else out.push(rel);
  }
  return out;
}

test('every ts/js example parses, and each one that does not run says why', () => {
  const examples = allExamples();
  assert.ok(examples.length >= 15, `only ${examples.length} examples found`);
  for (const ex of examples) {
    if (ex.skip !== undefined) assert.ok(ex.skip.length > 3, `${ex.source}: not-runnable needs a reason`);
    // `using` is a SyntaxError in JavaScript on Node 20: such a block must be marked, and shown
    // next to a form that runs there.
    if (/^\s*(await\s+)?using\s+\w+\s*=/m.test(ex.code)) {
      assert.ok(
        ex.minNode !== undefined && ex.minNode >= 24,
        `${ex.source} uses \`using\`: mark it <!-- min-node: 24 reason --> and show the try/finally form beside it`,
      );
    }
  }
});

test('the examples import the published name, never the unrelated `leash` package', () => {
  for (const ex of allExamples()) {
    assert.doesNotMatch(
      ex.code,
      /from 'leash(\/[^']*)?'/,
      `${ex.source} imports 'leash'; the package is leashjs`,
    );
  }
  for (const file of docs) assert.doesNotMatch(read(file), /npm (install|i) leash\b(?!js)/, file);
});

test('the repository stands alone: no README, doc or shipped source cites a file outside it', () => {
  const shipped = [...docs, ...walk('src').filter((f) => f.endsWith('.ts'))];
  for (const file of shipped) {
    const text = read(file);
    assert.doesNotMatch(text, /\b(DESIGN|STYLE)\.md\b/, `${file} cites DESIGN.md/STYLE.md`);
    assert.doesNotMatch(text, /\.\.\/shared\/|\/work\//, `${file} names a path outside the repository`);
  }
});

test('relative links in README and docs resolve, and their targets are shipped', () => {
  const headings = (file: string) =>
    new Set(
      [...read(file).matchAll(/^#{1,6}\s+(.*)$/gm)].map((m) =>
        (m[1] as string)
          .toLowerCase()
          .replace(/[^\p{L}\p{N}\s-]/gu, '')
          .trim()
          .replace(/\s/g, '-'),
      ),
    );
  for (const file of docs) {
    for (const m of read(file).matchAll(/\]\(([^)\s]+)\)/g)) {
      const href = m[1] as string;
      if (/^[a-z]+:/.test(href)) continue; // absolute URLs
      const [path, anchor] = href.split('#') as [string, string | undefined];
      const target = path === '' ? file : normalize(join(dirname(file), path));
      assert.ok(existsSync(join(root, target)), `${file}: link ${href} points to a missing ${target}`);
      if (anchor && target.endsWith('.md'))
        assert.ok(headings(target).has(anchor), `${file}: link ${href}: no heading #${anchor} in ${target}`);
      const top = target.split('/')[0] as string;
      const shipped = pkg.files.some((f) => f === top || f === target);
      assert.ok(shipped, `${file}: link ${href} points to ${target}, which the package does not ship`);
    }
  }
});

test('every subpath export is in the README table and in docs/architecture.md', () => {
  const readme = read('README.md');
  const architecture = read('docs/architecture.md');
  for (const key of Object.keys(pkg.exports)) {
    if (key === './package.json') continue;
    const name = `${pkg.name}${key.slice(1)}`;
    // leak's plug-ins and register are listed with leashjs/leak.
    const layer = name.replace(/^(leashjs\/leak)\/.*$/, '$1');
    assert.ok(readme.includes(`\`${layer}\``), `README does not name ${layer}`);
    assert.ok(architecture.includes(`\`${layer}\``), `docs/architecture.md does not name ${layer}`);
  }
});

test('the README quick start is exactly `npm ci && npm start` and `npm ci && npm test`', () => {
  const readme = read('README.md');
  assert.match(readme, /^npm ci && npm start\b/m);
  assert.match(readme, /^npm ci && npm test\b/m);
  const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
  for (const s of ['start', 'test', 'check:examples'])
    assert.ok(scripts[s], `package.json has no "${s}" script`);
});
