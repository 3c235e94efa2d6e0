// Shared by the integration tests: where the corpus and the built CLI are, how to run them, and the
// `// LEAK` lines each corpus program marks.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const corpusDir = join(repoRoot, 'test', 'leak-corpus');
export const cliPath = join(repoRoot, 'dist', 'leak', 'cli.js');

/** corpusPrograms lists [pattern, leakFile, fixedFile] for every pattern in the corpus. */
export function corpusPrograms(): Array<[string, string, string]> {
  return readdirSync(corpusDir)
    .filter((n) => n.endsWith('.leak.mjs'))
    .sort()
    .map((n) => {
      const pattern = n.slice(0, -'.leak.mjs'.length);
      return [pattern, join(corpusDir, n), join(corpusDir, `${pattern}.fixed.mjs`)];
    });
}

/** leakSites returns "test/leak-corpus/x.leak.mjs:LINE" for each line ending in `// LEAK`. */
export function leakSites(file: string): string[] {
  const rel = relative(repoRoot, file);
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line, i) => (line.trimEnd().endsWith('// LEAK') ? [`${rel}:${i + 1}`] : []));
}

/** run spawns a command in the repo root and collects its output and exit code. */
export function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // A nested `node --test` would report to this runner instead of printing, if it saw this.
    const { NODE_TEST_CONTEXT: _, ...inherited } = process.env;
    const child = spawn(command, args, { cwd: repoRoot, env: { ...inherited, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
