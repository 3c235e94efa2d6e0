// `leash` command-line hygiene, against the built CLI in real processes: usage errors, --help,
// --version, --json FILE, the exit-code table of docs/leak.md, the header's trigger, and the
// register preload's own failure modes (a bad LEASH_TRACK, a doctor folder that is gone).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { cliPath, repoRoot } from './corpus-support.js';

const scratch = mkdtempSync(join(tmpdir(), 'leash-doctor-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const registerUrl = pathToFileURL(join(repoRoot, 'dist/leak/register.js')).href;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** sh runs a command in `cwd` (default: a scratch folder) and collects its output and exit code. */
function sh(
  command: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const { NODE_TEST_CONTEXT: _, ...inherited } = process.env;
    const child = spawn(command, args, { cwd: opts.cwd ?? scratch, env: { ...inherited, ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const leash = (args: string[], env?: NodeJS.ProcessEnv) => sh(process.execPath, [cliPath, ...args], { env });

test('an unknown flag is a usage error (exit 2), never run as the command', async () => {
  const r = await leash(['doctor', '--bogus', process.execPath, '-e', 'process.exit(0)']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /leash: unknown option --bogus/);
  assert.match(r.stderr, /Usage: leash doctor/);
  assert.doesNotMatch(r.stderr, /ENOENT|spawn/);
  const typo = await leash(['doctor', '--jsn', 'out.json', '--', process.execPath, '-e', '0']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /unknown option --jsn; did you mean --json\?/);
  const command = await leash(['docter', '--', process.execPath]);
  assert.equal(command.code, 2);
  assert.match(command.stderr, /unknown command docter; did you mean doctor\?/);
});

test('a flag missing its value is a usage error: --trace -- node x.mjs writes no file named --', async () => {
  const r = await leash(['doctor', '--trace', '--', process.execPath, '-e', '0']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--trace needs a file name, got --/);
  assert.equal(existsSync(join(scratch, '--')), false);
  const json = await leash([
    'doctor',
    '--',
    process.execPath,
    '-e',
    "process.exitCode = process.argv.includes('--json') ? 0 : 1",
    '--',
    '--json',
  ]);
  assert.equal(json.code, 0, 'flags after -- belong to the command');
  const last = await leash(['doctor', '--json']);
  assert.equal(last.code, 2);
  assert.match(last.stderr, /--json needs a file name/);
  const timeout = await leash(['doctor', '--timeout', '1s', '--', process.execPath, '-e', '0']);
  assert.equal(timeout.code, 2);
  assert.match(timeout.stderr, /--timeout must be a whole number of milliseconds/);
  assert.deepEqual(
    readdirSync(scratch).filter((n) => n.startsWith('-')),
    [],
  );
});

test('--help prints the usage on stdout and exits 0; bare leash prints it on stderr and exits 2', async () => {
  for (const args of [['--help'], ['-h'], ['doctor', '--help']]) {
    const r = await leash(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.match(r.stdout, /^Usage: leash doctor/);
    assert.match(r.stdout, /Exit codes:/);
    assert.equal(r.stderr, '');
  }
  const bare = await leash([]);
  assert.equal(bare.code, 2);
  assert.equal(bare.stdout, '');
  assert.match(bare.stderr, /^Usage: leash doctor/);
});

test('--version prints the package version', async () => {
  const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const r = await leash(['--version']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `leash ${version}\n`);
});

test('exit codes: the program’s own code passes through when nothing leaked; the doctor’s own failures have their own', async () => {
  const seven = await leash(['doctor', '--', process.execPath, '-e', 'process.exitCode = 7']);
  assert.equal(seven.code, 7, seven.stderr);
  assert.match(seven.stderr, /at exit: no leaks/);
  const one = await leash(['doctor', '--', process.execPath, '-e', 'process.exitCode = 1']);
  assert.equal(one.code, 1, 'exit 1 is the program’s, not a doctor failure');
  const killed = await leash([
    'doctor',
    '--',
    process.execPath,
    '-e',
    "process.kill(process.pid, 'SIGKILL')",
  ]);
  assert.equal(killed.code, 128 + 9);
  const leaked = await leash([
    'doctor',
    '--',
    process.execPath,
    '-e',
    'setInterval(() => {}, 1000); setTimeout(() => process.exit(0), 50)',
  ]);
  assert.equal(leaked.code, 3, leaked.stderr);
  const missing = await leash(['doctor', '--', join(scratch, 'no-such-command')]);
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /cannot run .*no-such-command/);
  const notExecutable = join(scratch, 'not-executable.sh');
  writeFileSync(notExecutable, 'echo hi\n');
  chmodSync(notExecutable, 0o644);
  const denied = await leash(['doctor', '--', notExecutable]);
  assert.equal(denied.code, 126, denied.stderr);
  const unwritable = await leash([
    'doctor',
    '--json',
    join(scratch, 'no-such-dir', 'out.json'),
    '--',
    process.execPath,
    '-e',
    '0',
  ]);
  assert.equal(unwritable.code, 125, 'the doctor could not write its --json file');
  assert.match(unwritable.stderr, /cannot write --json/);
});

test('--json FILE writes the reports to the file; the program’s stdout stays its own', async () => {
  const file = join(scratch, 'report.json');
  const r = await leash([
    'doctor',
    '--json',
    file,
    '--',
    process.execPath,
    '-e',
    "console.log('program output'); new Promise(() => {}); setTimeout(() => {}, 10)",
  ]);
  assert.equal(r.stdout, 'program output\n');
  assert.equal(r.code, 3, r.stderr);
  const out = JSON.parse(readFileSync(file, 'utf8')) as {
    leaks: number;
    hung: boolean;
    exitCode: number;
    reports: Array<{ trigger: string; reason: string; leaks: number }>;
  };
  assert.equal(out.hung, false);
  assert.equal(out.exitCode, 0);
  assert.ok(out.leaks >= 1);
  assert.deepEqual(
    out.reports.map((x) => x.trigger),
    ['exit'],
  );
});

test('the header says which trigger fired: at exit, or still running at --timeout', async () => {
  const hung = await leash([
    'doctor',
    '--timeout',
    '4000',
    '--',
    process.execPath,
    '-e',
    'setInterval(() => {}, 1000)',
  ]);
  assert.equal(hung.code, 4, hung.stderr);
  assert.match(hung.stderr, /still running at --timeout 4000 ms \(uptime \d+ ms\): 1 leaked/);
  assert.doesNotMatch(hung.stderr, /SIGUSR2/);
  const exited = await leash(['doctor', '--', process.execPath, '-e', 'setTimeout(() => {}, 10)']);
  assert.match(exited.stderr, /\(pid \d+\) at exit: no leaks/);
});

test('LEASH_TRACK is checked: a bad value is rejected with a clear message', async () => {
  const doctor = await leash(['doctor', '--', process.execPath, '-e', '0'], { LEASH_TRACK: 'ful' });
  assert.equal(doctor.code, 2);
  assert.match(
    doctor.stderr,
    /LEASH_TRACK must be one of full, debug, count, got "ful"; did you mean full\?/,
  );
  const preload = await sh(process.execPath, ['--import', registerUrl, '-e', "console.log('ran')"], {
    env: { LEASH_TRACK: 'bogus' },
  });
  assert.notEqual(preload.code, 0);
  assert.equal(preload.stdout, '', 'the program does not run untracked');
  assert.match(
    preload.stderr,
    /leashjs\/leak\/register: the environment variable LEASH_TRACK must be one of "full", "debug", "count", got the string "bogus"/,
  );
  const empty = await sh(process.execPath, ['--import', registerUrl, '-e', "console.log('ran')"], {
    env: { LEASH_TRACK: '' },
  });
  assert.equal(empty.code, 0, 'LEASH_TRACK= (empty) means the default');
});

test('a traced process whose doctor folder is gone (it outlived leash doctor) never fails because of it', async () => {
  const gone = join(scratch, 'removed-doctor-folder');
  const env = { LEASH_DOCTOR_DIR: gone };
  // beforeExit: the report is written after collecting garbage (a promise: it used to reject unhandled).
  const natural = await sh(process.execPath, ['--import', registerUrl, '-e', 'setTimeout(() => {}, 10)'], {
    env,
  });
  assert.equal(natural.code, 0, natural.stderr);
  assert.equal(natural.stderr, '');
  // process.exit(): the report is written synchronously in the exit handler (it used to throw there).
  const exited = await sh(process.execPath, ['--import', registerUrl, '-e', 'process.exit(5)'], { env });
  assert.equal(exited.code, 5, exited.stderr);
  assert.equal(exited.stderr, '');
  // SIGUSR2 while running.
  const signalled = await sh(
    process.execPath,
    [
      '--import',
      registerUrl,
      '-e',
      "process.kill(process.pid, 'SIGUSR2'); setTimeout(() => console.log('still here'), 300)",
    ],
    { env },
  );
  assert.equal(signalled.code, 0, signalled.stderr);
  assert.equal(signalled.stdout, 'still here\n');
  assert.equal(signalled.stderr, '');
});

test('LEASH_TASK_STACKS=1 survives the preload and stopTracking() (stacks are not forced off)', async () => {
  const script = `
    const { stopTracking } = await import('leashjs/leak');
    const { taskStacksEnabled } = await import('leashjs/task');
    const during = taskStacksEnabled();
    stopTracking();
    console.log(during, taskStacksEnabled());`;
  const on = await sh(process.execPath, ['--import', registerUrl, '--input-type=module', '-e', script], {
    cwd: repoRoot,
    env: { LEASH_TASK_STACKS: '1' },
  });
  assert.equal(on.stdout, 'true true\n', on.stderr);
  const off = await sh(process.execPath, ['--import', registerUrl, '--input-type=module', '-e', script], {
    cwd: repoRoot,
    env: { LEASH_TASK_STACKS: '' },
  });
  assert.equal(
    off.stdout,
    'true false\n',
    'full tracking turns stacks on, stopTracking puts back what was there',
  );
});
