// Machine instructions per memory-tier get() hit, leash against lru-cache, counted with valgrind:
// a measure that does not move with the machine's load, for comparing two versions of the hit
// path (cache.bench.ts measures time, whose run-to-run spread on a shared machine is larger than
// most single changes). The same recipe as task-instructions.mjs: `node --predictable
// --single-threaded` makes V8 deterministic, each case runs with 100,000 and with 1,100,000
// measured gets after the same warm-up (2,000,000 gets), and the difference divided by 1,000,000
// is the per-get figure. 10,000 keys in a cache of 20,000, every get a hit, the key order that
// cache.bench.ts uses. Instructions are not time (memory stalls differ): use it to compare builds.
//
// Usage (Linux, valgrind installed: `apt-get install valgrind`; build the package first):
//   cd bench && node cache-instructions.mjs [--sim]
// --sim adds cachegrind's simulated first-level data cache misses and mispredicted branches per
// hit (a model, not this machine's counters, which its VM does not expose; about 3x slower).
import { fileURLToPath } from 'node:url';
import { countInstructions, simulateCaches, valgrindVersion } from './valgrind-instructions.mjs';

const KEYS = 10_000;
const CASES = {
  leash: 'leash memory tier get() hit (createCache, no subscribers)',
  'lru-cache': 'lru-cache get() hit',
  map: 'floor: Map.get of the slot, then an array read (no policy)',
};

const args = process.argv.slice(2);
const child = args.find((a) => a.startsWith('--child='))?.slice(8);

if (child !== undefined) {
  await runChild(child, Number(args.find((a) => a.startsWith('--n='))?.slice(4)));
} else {
  const valgrind = valgrindVersion();
  if (valgrind === undefined) {
    console.log(
      'valgrind is not installed: apt-get install valgrind (this bench counts instructions with it)',
    );
    process.exit(0);
  }
  const sim = args.includes('--sim');
  console.log(
    `Machine instructions per get() hit, ${KEYS} keys (${valgrind}, Node ${process.version}, --predictable)` +
      (sim ? "; with --sim, cachegrind's simulated D1 misses and mispredicted branches per hit" : ''),
  );
  const script = fileURLToPath(import.meta.url);
  for (const [name, label] of Object.entries(CASES)) {
    if (sim) {
      const small = simulateCaches(script, name, 100_000);
      const large = simulateCaches(script, name, 1_100_000);
      const per = (k) => ((large[k] - small[k]) / 1_000_000).toFixed(k === 'instructions' ? 0 : 2);
      console.log(
        `${label.padEnd(60)} ${per('instructions').padStart(6)}  D1 misses ${per('d1Misses')}  mispredicts ${per('mispredicts')}`,
      );
    } else {
      const small = countInstructions(script, name, 100_000);
      const large = countInstructions(script, name, 1_100_000);
      console.log(`${label.padEnd(60)} ${((large - small) / 1_000_000).toFixed(0).padStart(6)}`);
    }
  }
}

async function runChild(name, n) {
  const keys = Array.from({ length: KEYS }, (_, i) => `key:${i}`);
  const order = Array.from({ length: KEYS }, (_, i) => keys[(i * 7919) % KEYS]);
  let cache;
  if (name === 'map') {
    // The floor both caches stand on: the same Map lookup of a string key and an array read.
    const slots = new Map();
    const values = [];
    cache = {
      set(k, v) {
        slots.set(k, values.length);
        values.push(v);
      },
      get(k) {
        const s = slots.get(k);
        return s === undefined ? undefined : values[s];
      },
    };
  } else if (name === 'leash') {
    const { createCache } = await import('leashjs/cache');
    cache = createCache({ name: 'instructions', maximumSize: KEYS * 2 });
  } else {
    const { LRUCache } = await import('lru-cache');
    cache = new LRUCache({ max: KEYS * 2 });
  }
  for (let i = 0; i < KEYS; i++) cache.set(keys[i], i);
  let sink = 0;
  const run = (ops) => {
    for (let i = 0, j = 0; i < ops; i++) {
      sink += cache.get(order[j]) ?? 0;
      if (++j === KEYS) j = 0;
    }
  };
  run(2_000_000);
  run(n);
  if (sink < 0) console.log(sink); // never: keeps the loop's result alive
}
