// Runs one corpus program's main() under verifyNone in a fresh process and prints the result as
// JSON: { leaks, groups, message }. Used by corpus.test.ts. Usage: node verify-corpus.mjs FILE [MS]
import { pathToFileURL } from 'node:url';
import { LeakError, snapshot, verifyNone } from 'leashjs/leak';

const base = snapshot();
const mod = await import(pathToFileURL(process.argv[2]).href);
await mod.main();
let result = { leaks: [], groups: [], message: '' };
try {
  await verifyNone({ baseline: base, timeoutMs: Number(process.argv[3] ?? 500) });
} catch (err) {
  if (!(err instanceof LeakError)) throw err;
  result = { leaks: err.leaks, groups: err.groups, message: err.message };
}
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
