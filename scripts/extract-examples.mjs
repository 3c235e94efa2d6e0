#!/usr/bin/env node
// Extracts every ```ts and ```js example from README.md and docs/*.md, so that scripts/check-package.mjs
// can run each one against the packed package (as ESM JavaScript, on Node 20 and 24) and type-check
// the TypeScript ones (strict, skipLibCheck: false, module/moduleResolution nodenext).
//
// An example is runnable unless the Markdown says otherwise, with an HTML comment (invisible on
// GitHub and npm) on the line before its fence, blank lines allowed in between:
//
//   <!-- not-runnable: reason -->      neither run nor type-checked (a signature, a config fragment)
//   <!-- typecheck-only: reason -->    type-checked, never run
//   <!-- min-node: 24 reason -->       type-checked everywhere, run only on Node >= 24 (`using`)
//   <!-- until-sigterm: port=8080 get=/a get=/b->504 -->
//                                      a program that runs until SIGTERM (a server): the check
//                                      waits for the port (or 1 s without one), sends each GET (any
//                                      answer below 500 passes, or exactly the status after ->),
//                                      then SIGTERM, and expects exit 0
//                                      (or death by SIGTERM's default action, for a bare server)
//
// A reason is required for the first three: a block nobody can run must say why. Any other
// <!-- ... --> comment is ignored; an unknown `word:` directive is an error, so a typo cannot
// silently skip an example.
//
// Usage:
//   node scripts/extract-examples.mjs --list          one line per example, with its directives
//   node scripts/extract-examples.mjs --out DIR       writes DIR/<name>.ts|.mjs and DIR/examples.json
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The Markdown files whose examples are checked, repo-relative. */
export function markdownFiles() {
  const docs = readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs];
}

const LANGS = new Map([
  ['ts', 'ts'],
  ['typescript', 'ts'],
  ['js', 'js'],
  ['mjs', 'js'],
  ['javascript', 'js'],
]);
const DIRECTIVES = new Set(['not-runnable', 'typecheck-only', 'min-node', 'until-sigterm']);

function parseDirective(comment, where) {
  const m = /^<!--\s*([a-z-]+):\s*(.*?)\s*-->$/.exec(comment.trim());
  if (!m) return undefined;
  const [, name, arg] = m;
  if (!DIRECTIVES.has(name)) {
    // Only comments that look like ours (`word: ...` right above a fence) are checked.
    throw new Error(`${where}: unknown example directive "${name}" (known: ${[...DIRECTIVES].join(', ')})`);
  }
  if (name === 'until-sigterm') {
    const port = /\bport=(\d+)/.exec(arg);
    const gets = [...arg.matchAll(/\bget=(\S+?)(?:->(\d{3}))?(?=\s|$)/g)].map((g) => ({
      path: g[1],
      status: g[2] === undefined ? undefined : Number(g[2]),
    }));
    if (gets.length && !port) throw new Error(`${where}: get= needs port=N`);
    return { untilSigterm: { port: port ? Number(port[1]) : undefined, gets } };
  }
  if (name === 'min-node') {
    const v = /^(\d+)\s+(\S.*)$/.exec(arg);
    if (!v) throw new Error(`${where}: <!-- min-node: N reason --> needs a version and a reason`);
    return { minNode: Number(v[1]), reason: v[2] };
  }
  if (!arg) throw new Error(`${where}: <!-- ${name}: reason --> needs a reason`);
  return name === 'not-runnable' ? { skip: arg } : { typecheckOnly: arg };
}

/** Every fenced ts/js block of one Markdown file, with the directives above it. */
export function examplesOf(file) {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]);
    if (!open) {
      i++;
      continue;
    }
    const [, indent, fence, info] = open;
    const start = i;
    const body = [];
    i++;
    while (i < lines.length && !lines[i].trimStart().startsWith(fence)) {
      body.push(lines[i].startsWith(indent) ? lines[i].slice(indent.length) : lines[i]);
      i++;
    }
    i++; // the closing fence
    const lang = LANGS.get(info.toLowerCase());
    if (!lang) continue;
    // Directives: the HTML comments directly above the fence (blank lines allowed).
    const directives = {};
    for (let j = start - 1; j >= 0; j--) {
      const line = lines[j].trim();
      if (line === '') continue;
      if (!line.startsWith('<!--')) break;
      Object.assign(directives, parseDirective(line, `${file}:${j + 1}`) ?? {});
    }
    const slug = basename(file, '.md')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-');
    const name = `${file.startsWith('docs/') ? 'docs-' : ''}${slug}-L${start + 1}`;
    out.push({ name, source: `${file}:${start + 1}`, lang, code: `${body.join('\n')}\n`, ...directives });
  }
  return out;
}

export function allExamples() {
  return markdownFiles().flatMap(examplesOf);
}

/** Writes each example as DIR/<name>.ts (TypeScript) or DIR/<name>.mjs (JavaScript), plus DIR/examples.json. */
export function writeExamples(dir) {
  mkdirSync(dir, { recursive: true });
  const examples = allExamples();
  const manifest = [];
  for (const ex of examples) {
    const file = `${ex.name}.${ex.lang === 'ts' ? 'ts' : 'mjs'}`;
    if (!ex.skip) writeFileSync(join(dir, file), `// ${ex.source}\n${ex.code}`);
    const { code: _code, ...rest } = ex;
    manifest.push({ ...rest, file });
  }
  writeFileSync(join(dir, 'examples.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const outAt = args.indexOf('--out');
  if (outAt >= 0 && args[outAt + 1]) {
    const manifest = writeExamples(args[outAt + 1]);
    console.log(`${manifest.length} examples written to ${args[outAt + 1]}`);
  } else if (args.includes('--list') || args.length === 0) {
    for (const ex of allExamples()) {
      const how = ex.skip
        ? `not runnable: ${ex.skip}`
        : ex.typecheckOnly
          ? `type-check only: ${ex.typecheckOnly}`
          : ex.untilSigterm
            ? `runs until SIGTERM${ex.untilSigterm.port ? ` (port ${ex.untilSigterm.port})` : ''}`
            : ex.minNode
              ? `runs on Node >= ${ex.minNode}`
              : 'runs';
      console.log(`${ex.source.padEnd(22)} ${ex.lang}  ${how}`);
    }
  } else {
    console.error('usage: node scripts/extract-examples.mjs [--list | --out DIR]');
    process.exit(2);
  }
}
