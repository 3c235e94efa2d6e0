// leashjs/eslint stands alone: it imports nothing from the rest of leash at run time, and it loads
// and reports in plain JavaScript when typescript-eslint (and TypeScript) cannot be resolved.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = join(root, 'src/eslint');

function sources(d: string): string[] {
  return readdirSync(d, { withFileTypes: true }).flatMap((e) => {
    const p = join(d, e.name);
    if (e.isDirectory()) return e.name === 'test-support' || e.name === 'fixtures' ? [] : sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

test('the plug-in imports only itself at run time (eslint and estree as types only)', () => {
  const files = sources(dir);
  assert.ok(files.length >= 9, 'index, helpers and seven rules');
  const bad: string[] = [];
  for (const f of files) {
    for (const m of readFileSync(f, 'utf8').matchAll(/^import\s+(type\s+)?[^;]*?from\s+'([^']+)'/gm)) {
      const [, isType, spec] = m;
      if (isType) continue;
      if (!spec!.startsWith('./') && !spec!.startsWith('../')) bad.push(`${f}: ${spec}`);
      else if (!join(f, '..', spec!).startsWith(dir)) bad.push(`${f}: ${spec} (outside src/eslint)`);
    }
  }
  assert.deepEqual(bad, []);
});

test('it loads and reports without typescript-eslint or typescript', () => {
  // A resolve hook that makes typescript-eslint, @typescript-eslint/* and typescript unresolvable.
  const hook = `data:text/javascript,${encodeURIComponent(`
    export async function resolve(spec, ctx, next) {
      if (/^(typescript|typescript-eslint|@typescript-eslint\\/)/.test(spec)) {
        const e = new Error('blocked ' + spec); e.code = 'ERR_MODULE_NOT_FOUND'; throw e;
      }
      return next(spec, ctx);
    }`)}`;
  const register = `data:text/javascript,${encodeURIComponent(`import { register } from 'node:module'; register(${JSON.stringify(hook)});`)}`;
  const script = `
    const { Linter } = await import('eslint');
    let blocked = false;
    try { await import('typescript-eslint'); } catch { blocked = true; }
    const { default: leash } = await import('./src/eslint/index.ts');
    const linter = new Linter();
    const code = "import { background, withTimeout } from 'leashjs';\\nexport function f() { const [ctx] = withTimeout(background(), 5); return ctx; }";
    const messages = linter.verify(code, [{ ...leash.configs.recommended, languageOptions: { sourceType: 'module' } }]);
    console.log(JSON.stringify({ blocked, rules: messages.map((m) => m.ruleId) }));
  `;
  const out = execFileSync(
    process.execPath,
    ['--import', register, '--import', 'tsx', '--input-type=module', '-e', script],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  const { blocked, rules } = JSON.parse(out.trim().split('\n').pop()!);
  assert.equal(blocked, true, 'typescript-eslint is unresolvable in the child');
  assert.deepEqual(rules, ['leash/lost-cancel']);
});
