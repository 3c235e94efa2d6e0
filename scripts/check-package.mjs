#!/usr/bin/env node
// Installs the packed package the way a stranger gets it and runs every README and docs example
// against it. CI runs it after the tests (.ci/run); `npm run check:examples` runs it by hand.
//
// 1. `npm pack` (prepack builds) into a scratch folder under os.tmpdir().
// 2. "bare" project: the tarball, typescript@5.9 and @types/node only, no express, fastify, koa or
//    pg. A file importing every subpath export (but the plug-ins for vitest, jest and eslint, which
//    need their tool) must type-check (strict, skipLibCheck: false,
//    module/moduleResolution nodenext) and load: nobody needs a framework's types or code to use
//    another part of leash.
// 3. "examples" project: the tarball plus the peers the examples use. Every example that
//    scripts/extract-examples.mjs finds is type-checked as strict TypeScript (the ```ts ones), then
//    run as ESM JavaScript (types stripped by TypeScript's transpileModule, nothing downlevelled, so
//    syntax Node 20 lacks fails) on this Node and on Node 24.
//
// Examples run against the local services: Redis on 127.0.0.1:6379, PostgreSQL on 127.0.0.1:5432 (PGHOST/PGUSER/PGDATABASE
// are set, as a user would; tables `orders` and `stock` are created in a schema of their own), and
// a stub upstream on 127.0.0.1:8081 answering GET /stock/:sku, which the HTTP examples call.
//
// Options: --keep (leave the scratch folder), --node=current (skip Node 24),
// --only=SUBSTRING (run the examples whose source matches), LEASH_TARBALL=path (skip npm pack).
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeExamples } from './extract-examples.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const keep = args.includes('--keep');
const onlyCurrentNode = args.includes('--node=current');
const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const started = Date.now();
const failures = [];

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const scratch = mkdtempSync(join(tmpdir(), 'leash-package-'));
const log = (msg) => console.log(`[check-package ${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', ...opts });
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${argv.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout ?? ''}${r.stderr ?? ''}`,
    );
  }
  return r.stdout;
}

// Both scratch projects install at once (npm's cache is safe to share): most of this check's time.
function npmInstall(dir, pkgs) {
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'scratch', private: true, type: 'module' }, null, 2)}\n`,
  );
  const argv = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...pkgs];
  return new Promise((resolve, reject) => {
    const child = spawn(npm, argv, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`npm ${argv.join(' ')} in ${dir} failed (${code}):\n${out}`)),
    );
  });
}

const TSCONFIG = {
  compilerOptions: {
    strict: true,
    skipLibCheck: false,
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'es2022',
    moduleDetection: 'force',
    noEmit: true,
    types: ['node'],
    // Not leash's: with express 5 installed, its content-disposition@2 (which ships its own types)
    // is hoisted, and @types/koa then resolves 'content-disposition' to it instead of to
    // @types/content-disposition. A koa user without express never sees this.
    paths: { 'content-disposition': ['./node_modules/@types/content-disposition'] },
  },
};

function typecheck(dir, what) {
  writeFileSync(
    join(dir, 'tsconfig.json'),
    `${JSON.stringify({ ...TSCONFIG, include: ['*.ts'] }, null, 2)}\n`,
  );
  const r = spawnSync(process.execPath, [join(dir, 'node_modules/typescript/bin/tsc'), '-p', dir], {
    cwd: dir,
    encoding: 'utf8',
  });
  if (r.status !== 0) failures.push(`type-check of ${what} failed:\n${r.stdout}${r.stderr}`);
  else log(`type-check of ${what}: ok`);
}

// --- 1. pack -----------------------------------------------------------------------------------
let tarball = process.env.LEASH_TARBALL;
if (!tarball) {
  log('npm pack (prepack builds)');
  const out = run(npm, ['pack', '--json', '--pack-destination', scratch], { cwd: root });
  tarball = join(scratch, JSON.parse(out.slice(out.indexOf('[')))[0].filename);
}
let pkg;
const peerSpecs = [
  'express@5',
  'fastify@5',
  'koa@3',
  'pg@8',
  'ioredis@5', // for the Redis examples (the local Redis at 127.0.0.1:6379, as in the tests)
  'prom-client@15', // for the leashjs/metrics examples
  '@opentelemetry/api@1',
  '@types/express@5',
  '@types/koa',
  '@types/pg@8',
];
const toolSpecs = ['typescript@5.9', '@types/node@20'];

// Node 24: resolved once through npx (cached after the first run).
function node24() {
  if (onlyCurrentNode || process.versions.node.startsWith('24.')) return undefined;
  return run('npx', ['-y', '-p', 'node@24', '-c', 'node -p process.execPath'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
    .trim()
    .split('\n')
    .pop();
}

// --- 2. bare project: no frameworks installed ----------------------------------------------------
const bareDir = join(scratch, 'bare');
const examplesDir = join(scratch, 'examples');
log(
  `installing both projects: <tarball> ${toolSpecs.join(' ')} (bare) and the same plus ${peerSpecs.join(' ')} (examples)`,
);
const bareInstalled = npmInstall(bareDir, [tarball, ...toolSpecs]);
const examplesInstalled = npmInstall(examplesDir, [tarball, ...toolSpecs, ...peerSpecs]);
examplesInstalled.catch(() => {}); // awaited below; a failure must not be unhandled meanwhile
{
  const dir = bareDir;
  await bareInstalled;
  log('bare project (no express, fastify, koa, pg) installed');
  // The exports of the package as packed (not of the work tree, which may be ahead of the tarball).
  pkg = JSON.parse(readFileSync(join(dir, 'node_modules/leashjs/package.json'), 'utf8'));
  // Every subpath but the plug-ins for a tool, which need that tool (their optional peer) by nature.
  const pluginPeers = { './leak/vitest': 'vitest', './leak/jest': 'jest', './eslint': 'eslint' };
  const subpaths = Object.keys(pkg.exports).filter((k) => k !== './package.json' && !(k in pluginPeers));
  const lines = subpaths.map((k, i) => `import * as m${i} from '${pkg.name}${k.slice(1)}';`);
  lines.push(
    `console.log([${subpaths.map((_, i) => `m${i}`).join(', ')}].map((m) => Object.keys(m).length).join(' '));`,
  );
  writeFileSync(join(dir, 'every-subpath.ts'), `${lines.join('\n')}\n`);
  typecheck(
    dir,
    `every subpath export but the tool plug-ins (${subpaths.length}) without any optional peer installed`,
  );
  // Loading needs no peer either.
  const loadable = subpaths;
  const js = loadable.map((k) => `await import('${pkg.name}${k.slice(1)}');`).join('\n');
  writeFileSync(join(dir, 'load.mjs'), `${js}\n`);
  const r = spawnSync(process.execPath, ['load.mjs'], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) failures.push(`loading ${loadable.join(', ')} without peers failed:\n${r.stderr}`);
  else log(`import of ${loadable.length} subpaths without peers: ok`);
  // The README's and docs' relative links work inside the installed package (what npm shows offline).
  const installed = join(dir, 'node_modules', pkg.name);
  const pages = ['README.md', ...readdirSync(join(installed, 'docs')).map((f) => `docs/${f}`)].filter((f) =>
    f.endsWith('.md'),
  );
  for (const page of pages) {
    for (const m of readFileSync(join(installed, page), 'utf8').matchAll(/\]\(([^)\s#]+)(#[^)\s]*)?\)/g)) {
      if (/^[a-z]+:/.test(m[1])) continue;
      if (!existsSync(join(installed, dirname(page), m[1])))
        failures.push(`${page} in the package links to ${m[1]}, which is not shipped`);
    }
  }
  log(`relative links in ${pages.length} shipped Markdown files checked`);
  const cli = spawnSync(join(dir, 'node_modules/.bin/leash'), ['doctor', '--', process.execPath, '-e', '0'], {
    cwd: dir,
    encoding: 'utf8',
  });
  if (cli.status !== 0)
    failures.push(`the leash bin: leash doctor -- node -e 0 exited ${cli.status}:\n${cli.stderr}`);
  else log('bin: leash doctor -- node -e 0: ok');
}

// --- 3. examples ---------------------------------------------------------------------------------
const dir = examplesDir;
await examplesInstalled;
log('examples project installed');
const manifest = writeExamples(dir).filter((ex) => !only || ex.source.includes(only));
typecheck(dir, `${manifest.filter((ex) => ex.lang === 'ts' && !ex.skip).length} TypeScript examples`);

const ts = (await import(join(dir, 'node_modules/typescript/lib/typescript.js'))).default;
for (const ex of manifest) {
  if (ex.skip || ex.lang !== 'ts') continue;
  const out = ts.transpileModule(readFileSync(join(dir, ex.file), 'utf8'), {
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ESNext,
      verbatimModuleSyntax: false,
    },
  }).outputText;
  writeFileSync(join(dir, ex.file.replace(/\.ts$/, '.mjs')), out);
}

// Fixtures: the database tables and the upstream the examples call.
const pgEnv = { PGHOST: '127.0.0.1', PGPORT: '5432', PGUSER: 'postgres', PGDATABASE: 'test' };
const schema = 'leash_examples';
spawnSync(
  'psql',
  [
    '-v',
    'ON_ERROR_STOP=1',
    '-qc',
    `CREATE SCHEMA IF NOT EXISTS ${schema};
     CREATE TABLE IF NOT EXISTS ${schema}.orders (id int PRIMARY KEY, sku text NOT NULL);
     INSERT INTO ${schema}.orders VALUES (1, 'sku-1') ON CONFLICT DO NOTHING;
     CREATE TABLE IF NOT EXISTS ${schema}.stock (id int PRIMARY KEY, n int NOT NULL);
     INSERT INTO ${schema}.stock VALUES (42, 1000000) ON CONFLICT DO NOTHING;`,
  ],
  { env: { ...process.env, ...pgEnv, PGOPTIONS: '-c client_min_messages=warning' }, stdio: 'inherit' },
);
const upstream = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ path: req.url, available: 7 }));
});
await new Promise((resolve) => upstream.listen(8081, '127.0.0.1', resolve));

const env = {
  ...process.env,
  ...pgEnv,
  PGOPTIONS: `-c search_path=${schema},public`,
  NODE_OPTIONS: '',
  LEASH_TRACK: '',
};

function waitForPort(port, ms) {
  const until = Date.now() + ms;
  return new Promise((resolve) => {
    const attempt = () => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > until) resolve(false);
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

async function runExample(nodePath, major, ex) {
  const file = ex.file.replace(/\.ts$/, '.mjs');
  const child = spawn(nodePath, [file], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => {
    output += d;
  });
  child.stderr.on('data', (d) => {
    output += d;
  });
  const exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  let problem;
  const until = ex.untilSigterm;
  if (until) {
    if (until.port === undefined) await new Promise((resolve) => setTimeout(resolve, 1_000));
    else if (!(await waitForPort(until.port, 10_000))) problem = `nothing listened on port ${until.port}`;
    for (const { path, status } of problem ? [] : until.gets) {
      const res = await fetch(`http://127.0.0.1:${until.port}${path}`).catch((e) => e);
      if (res instanceof Error || (status === undefined ? res.status >= 500 : res.status !== status)) {
        problem = `GET ${path}: ${res instanceof Error ? res.message : res.status}${status ? ` (expected ${status})` : ''}`;
        break;
      }
      output += `GET ${path} -> ${res.status} ${(await res.text()).slice(0, 200)}\n`;
    }
    child.kill('SIGTERM');
  }
  const { code, signal } = await exited;
  clearTimeout(timer);
  // A server with no SIGTERM handler ends by the signal's default action: that is a clean stop too.
  const stopped = code === 0 || (until && signal === 'SIGTERM');
  // A server whose requests time out or whose clients leave must not log that as an error: the
  // request's own end is not news (the examples show the error handlers that keep it quiet).
  if (!problem && until?.gets.length && /context deadline exceeded|context canceled/.test(output)) {
    problem = 'logged a request cancellation or deadline as an error';
  }
  if (!problem && !stopped)
    problem =
      signal === 'SIGKILL'
        ? 'still running after 30 s'
        : signal
          ? `killed by ${signal}`
          : `exit code ${code}`;
  if (problem) failures.push(`${ex.source} on Node ${major}: ${problem}\n${output.replace(/^/gm, '    ')}`);
  return !problem;
}

const runtimes = [[process.execPath, process.versions.node.split('.')[0]]];
const n24 = node24();
if (n24) runtimes.push([n24, '24']);
try {
  for (const [nodePath, major] of runtimes) {
    let ran = 0;
    let passed = 0;
    for (const ex of manifest) {
      if (ex.skip || ex.typecheckOnly || (ex.minNode && Number(major) < ex.minNode)) continue;
      ran++;
      if (await runExample(nodePath, major, ex)) passed++;
    }
    log(`examples on Node ${major}: ${passed} of ${ran} ran cleanly`);
  }
} finally {
  upstream.close();
}
const skipped = manifest.filter((ex) => ex.skip);
for (const ex of skipped) log(`not runnable (by the docs' own mark): ${ex.source}: ${ex.skip}`);

if (keep) log(`scratch kept at ${scratch}`);
else rmSync(scratch, { recursive: true, force: true });
if (failures.length) {
  console.error(`\ncheck-package: ${failures.length} failure(s)\n\n${failures.join('\n\n')}`);
  process.exit(1);
}
log('the packed package installs, type-checks and runs every example');
