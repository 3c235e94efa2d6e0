import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliPath, repoRoot, run } from './corpus-support.js';

interface TraceEvent {
  ph: string;
  id?: string;
  ts: number;
}

test('leash doctor --trace writes valid trace-event JSON with matching pairs and flows', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-trace-'));
  try {
    const file = join(dir, 'trace.json');
    const program =
      'let n = 0; const t = setInterval(() => { if (++n === 3) clearInterval(t); }, 5); setTimeout(() => {}, 30);';
    const { code, stderr } = await run(process.execPath, [
      cliPath,
      'doctor',
      '--trace',
      file,
      '--',
      process.execPath,
      '-e',
      program,
    ]);
    assert.equal(code, 0, stderr);
    const trace = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: TraceEvent[] };
    const count = (ph: string) => trace.traceEvents.filter((e) => e.ph === ph).length;
    assert.ok(count('b') > 0);
    assert.equal(count('b'), count('e'));
    assert.equal(count('B'), count('E'));
    assert.equal(count('s'), count('f'));
    assert.ok(count('s') > 0, 'flows from creator to created');
    const begins = new Set(trace.traceEvents.filter((e) => e.ph === 'b').map((e) => e.id));
    for (const e of trace.traceEvents.filter((x) => x.ph === 'e')) assert.ok(begins.has(e.id));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGUSR2 to leash doctor prints a report while the program keeps running', async () => {
  const program =
    "const t = setInterval(() => {}, 1000); process.stdout.write('ready\\n'); setTimeout(() => clearInterval(t), 1500);";
  const child = spawn(process.execPath, [cliPath, 'doctor', '--', process.execPath, '-e', program], {
    cwd: repoRoot,
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d) => {
      stdout += d;
      if (stdout.includes('ready')) resolve();
    }),
  );
  // Give the preload a moment past the program's first line, then ask.
  await new Promise((r) => setTimeout(r, 200));
  child.kill('SIGUSR2');
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  assert.match(stderr, /on SIGUSR2 after \d+ ms: 2 leaked/);
  assert.match(stderr, /1 × resource Interval \[active\], keeps the process alive/);
  assert.match(stderr, /at exit: no leaks/);
  assert.equal(code, 0, 'only the final report decides the exit code');
});
