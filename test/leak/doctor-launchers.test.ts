// `leash doctor` in front of launchers, with the real ones: `sh -c`, `npm start` in a scratch package
// and `npx tsx`. The command runs in its own process group: a timeout, or a command that exits
// leaving processes behind, stops the whole group (nothing is left under PID 1); every Node process
// in it is followed; a launcher's own wait on its child (npm's PROCESSWRAP) is never reported.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cliPath, repoRoot } from './corpus-support.js';

const scratch = mkdtempSync(join(tmpdir(), 'leash-doctor-launchers-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

interface Report {
  pid: number;
  argv: string[];
  trigger: string;
  leaks: number;
  keepingAlive: Array<{ count: number; kind: string; type: string; site: string }>;
}
interface Out {
  leaks: number;
  hung: boolean;
  orphans: number[];
  exitCode: number | null;
  reports: Report[];
}

let seq = 0;

/** doctor runs `leash doctor --json FILE [...opts] -- command` in `cwd` and returns the outcome. */
function doctor(
  opts: string[],
  command: string[],
  cwd = scratch,
): Promise<{ code: number | null; stdout: string; stderr: string; out: Out }> {
  const file = join(scratch, `out-${++seq}.json`);
  return new Promise((resolve, reject) => {
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    // When this suite itself runs under `npx -p node@24 -c 'npm test'` (as CI does), npx exports its
    // own call and package; a nested `npx tsx` would read them as its arguments.
    for (const key of Object.keys(env)) if (/^npm_config_(call|package|yes)$/i.test(key)) delete env[key];
    const child = spawn(process.execPath, [cliPath, 'doctor', '--json', file, ...opts, '--', ...command], {
      cwd,
      env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => {
      try {
        resolve({ code, stdout, stderr, out: JSON.parse(readFileSync(file, 'utf8')) as Out });
      } catch (err) {
        reject(new Error(`${String(err)}\n${stderr}`));
      }
    });
  });
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie waiting for its parent to reap it is not running.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}

const site = (r: Report) => r.keepingAlive.map((g) => `${g.type} ${g.site}`).join('; ');

// A server-like program that never exits by itself.
const server = join(scratch, 'server.js');
writeFileSync(server, "setInterval(() => {}, 1000);\nconsole.log('server up');\n");

test('sh -c: at --timeout every Node process in the group reports, then the whole group is stopped', async () => {
  const { code, out, stderr } = await doctor(
    // Long enough for both servers to start on a loaded machine.
    ['--timeout', '6000'],
    [
      'sh',
      '-c',
      `${JSON.stringify(process.execPath)} ${server} & ${JSON.stringify(process.execPath)} ${server}; wait`,
    ],
  );
  assert.equal(code, 4, stderr);
  assert.equal(out.hung, true);
  const servers = out.reports.filter((r) => r.argv.some((a) => a.endsWith('server.js')));
  const pids = [...new Set(servers.map((r) => r.pid))];
  assert.equal(pids.length, 2, stderr);
  for (const pid of pids) {
    const report = servers.find((r) => r.pid === pid && r.trigger === 'timeout');
    assert.ok(report, `pid ${pid} reported at --timeout\n${stderr}`);
    assert.match(site(report), /Interval .*server\.js:1/);
    assert.equal(running(pid), false, `pid ${pid} was left running`);
  }
  assert.match(stderr, /still running at --timeout 6000 ms/);
});

test('sh -c: a grandchild left running after the command exited is reported and stopped (exit 3)', async () => {
  const { code, out, stderr } = await doctor(
    [],
    ['sh', '-c', `${JSON.stringify(process.execPath)} ${server} & sleep 3`],
  );
  assert.equal(code, 3, stderr);
  assert.equal(out.hung, false);
  assert.equal(out.exitCode, 0, 'the command itself exited 0');
  assert.ok(out.orphans.length >= 1, stderr);
  const report = out.reports.find((r) => r.trigger === 'orphaned');
  assert.ok(report, stderr);
  assert.match(site(report), /Interval .*server\.js:1/);
  assert.match(stderr, /still running after the command exited/);
  for (const pid of out.orphans) assert.equal(running(pid), false, `pid ${pid} was left running`);
});

// A scratch npm package whose start script runs `node app.js`.
function npmPackage(name: string, app: string): string {
  const pkg = join(scratch, name);
  mkdirSync(pkg, { recursive: true });
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({ name, version: '1.0.0', private: true, scripts: { start: 'node app.js' } }),
  );
  writeFileSync(join(pkg, 'app.js'), app);
  return pkg;
}

test('npm start on a clean program exits 0: npm’s own child-process handle is not a leak', async () => {
  const pkg = npmPackage('clean-app', "setTimeout(() => console.log('app done'), 20);\n");
  const { code, stdout, stderr, out } = await doctor([], ['npm', 'start', '--silent'], pkg);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /app done/);
  assert.equal(out.leaks, 0, JSON.stringify(out.reports, null, 1));
  assert.doesNotMatch(stderr, /PROCESSWRAP/);
  assert.ok(
    out.reports.some((r) => r.argv.some((a) => a.endsWith('app.js'))),
    'the app itself is followed through npm',
  );
});

test('npm start on a leaking program reports the app’s leak only', async () => {
  const pkg = npmPackage(
    'leaky-app',
    'setInterval(() => {}, 1000); // LEAK\nsetTimeout(() => process.exit(0), 50);\n',
  );
  const { code, stderr, out } = await doctor([], ['npm', 'start', '--silent'], pkg);
  assert.equal(code, 3, stderr);
  assert.equal(out.leaks, 1, JSON.stringify(out.reports, null, 1));
  const app = out.reports.find((r) => r.leaks > 0)!;
  assert.match(site(app), /^Interval .*app\.js:1/);
  assert.doesNotMatch(stderr, /PROCESSWRAP/);
});

test('npx tsx app.ts: the TypeScript program is followed, npx’s and tsx’s launchers are not reported', async () => {
  const clean = join(scratch, 'clean.ts');
  writeFileSync(clean, "const n: number = 1;\nsetTimeout(() => console.log('tsx ok', n), 20);\n");
  const ok = await doctor([], ['npx', '--no-install', 'tsx', clean], repoRoot);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /tsx ok 1/);
  assert.equal(ok.out.leaks, 0, JSON.stringify(ok.out.reports, null, 1));
  assert.ok(ok.out.reports.some((r) => r.argv.some((a) => a.endsWith('clean.ts'))));
  const leaky = join(scratch, 'leaky.ts');
  writeFileSync(
    leaky,
    'const t: NodeJS.Timeout = setInterval(() => {}, 1000); // LEAK\nsetTimeout(() => process.exit(0), 50);\nexport { t };\n',
  );
  const bad = await doctor([], ['npx', '--no-install', 'tsx', leaky], repoRoot);
  assert.equal(bad.code, 3, bad.stderr);
  assert.equal(bad.out.leaks, 1, JSON.stringify(bad.out.reports, null, 1));
  assert.match(site(bad.out.reports.find((r) => r.leaks > 0)!), /^Interval .*leaky\.ts:1/);
  assert.doesNotMatch(bad.stderr, /PROCESSWRAP/);
});
