// Runs a corpus module's main() when the module is the entry point.
import { pathToFileURL } from 'node:url';

export async function runIfMain(meta, main) {
  if (process.argv[1] && meta.url === pathToFileURL(process.argv[1]).href) await main();
}
