#!/usr/bin/env node
// Runs every test file (src/**/*.test.ts beside the code, test/**/*.test.ts for integration) on
// Node's own test runner, through tsx, with --expose-gc for the leak tests.
//
// Before the run it checks which real services answer (PostgreSQL, Redis). Tests that need a missing
// service skip themselves; this script then prints one loud line saying what was skipped and how to
// enable it. Under CI=true a missing service is a failure, never a skip.
//
// Usage: node scripts/run-tests.mjs [file-or-folder ...]
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function collect(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (/\.test\.(ts|mts|js|mjs)$/.test(name) && !path.includes('fixtures')) out.push(path);
  }
  return out;
}

function probe(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const args = process.argv.slice(2);
const roots = args.length ? args : ['src', 'test'];
const files = roots
  .flatMap((r) =>
    statSync(join(root, r), { throwIfNoEntry: false })?.isDirectory()
      ? collect(join(root, r), [])
      : [join(root, r)],
  )
  .map((f) => relative(root, f))
  .sort();

const services = [
  {
    name: 'PostgreSQL',
    env: 'LEASH_TEST_POSTGRES',
    port: 5432,
    how: 'start PostgreSQL on 127.0.0.1:5432 (trust auth, database "test")',
  },
  { name: 'Redis', env: 'LEASH_TEST_REDIS', port: 6379, how: 'start Redis on 127.0.0.1:6379' },
];
const missing = [];
const env = { ...process.env };
for (const s of services) {
  const up = await probe(s.port);
  env[s.env] = up ? '1' : '0';
  if (!up) missing.push(s);
}
// Chromium, for the dashboard's browser test (test/leak/dashboard-browser.test.ts).
const chromium = process.env.LEASH_CHROMIUM || '/usr/bin/chromium';
const chromiumHow = 'install it (apt-get install -y chromium) or set LEASH_CHROMIUM to its path';
env.LEASH_TEST_CHROMIUM = existsSync(chromium) ? '1' : '0';
if ((missing.length || env.LEASH_TEST_CHROMIUM === '0') && process.env.CI === 'true') {
  for (const s of missing)
    console.error(`FAIL: ${s.name} does not answer on 127.0.0.1:${s.port} and CI=true; ${s.how}.`);
  if (env.LEASH_TEST_CHROMIUM === '0')
    console.error(`FAIL: Chromium is not at ${chromium} and CI=true; ${chromiumHow}.`);
  process.exit(1);
}

const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--expose-gc',
    '--test',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=./scripts/summary-reporter.mjs',
    '--test-reporter-destination=stdout',
    ...files,
  ],
  { cwd: root, env, stdio: 'inherit' },
);

for (const s of missing) {
  console.log(
    `\n!!! SKIPPED: the ${s.name} integration tests; nothing answers on 127.0.0.1:${s.port}. To enable them, ${s.how} and run npm test again.`,
  );
}
if (env.LEASH_TEST_CHROMIUM === '0') {
  console.log(
    `\n!!! SKIPPED: the dashboard browser test; Chromium is not at ${chromium}. To enable it, ${chromiumHow} and run npm test again.`,
  );
}
process.exit(result.status ?? 1);
