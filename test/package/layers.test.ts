// What may import what (docs/architecture.md, "Layers and subpath exports"): a layer imports only
// the layers below it, through their index.ts, plus the core's internal surface
// (src/context/internal.ts). Checked on the sources, so a new cross-layer import fails here before
// it becomes a cycle or a leak of internals.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../../src', import.meta.url));

// The table of docs/architecture.md: layer folder -> the layers it may import.
const allowed: Record<string, string[]> = {
  context: [],
  task: ['context'],
  // leak's `leash` CLI dispatches `leash load` to the load layer.
  leak: ['context', 'task', 'load'],
  http: ['context', 'task'],
  pg: ['context'],
  resilience: ['context', 'task'],
  cache: ['context', 'task', 'resilience'],
  queue: ['context', 'task', 'resilience'],
  metrics: ['context'],
  chaos: ['context', 'http', 'pg', 'resilience'],
  eslint: [],
  load: ['context'],
};

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== 'fixtures' && name !== 'test-support') sources(path, out);
    } else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

test('each layer imports only the layers below it, through their index.ts or the core internal surface', () => {
  const layers = readdirSync(src).filter((d) => statSync(join(src, d)).isDirectory());
  // A layer not in the table yet gets the default of the layers above the core: context and task.
  const problems: string[] = [];
  for (const layer of layers) {
    for (const file of sources(join(src, layer))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
        const target = relative(src, join(dirname(file), m[1] as string)).split(sep);
        const [to, ...rest] = target;
        if (to === layer || to === undefined) continue;
        const where = `${relative(src, file)} imports ${m[1]}`;
        if (!(allowed[layer] ?? ['context', 'task']).includes(to))
          problems.push(`${where}: ${layer} may not import ${to}`);
        else if (!(rest.join('/') === 'index.js' || (to === 'context' && rest.join('/') === 'internal.js')))
          problems.push(`${where}: import ${to} through its index.ts`);
      }
    }
  }
  assert.deepEqual(problems, []);
});
