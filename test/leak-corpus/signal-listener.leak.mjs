// Each request listens for server shutdown on one long-lived AbortSignal and never stops
// listening: the listeners (and everything they close over) pile up until shutdown.
import { runIfMain } from './run-main.mjs';

const shutdown = new AbortController();

async function handle(id) {
  const state = { id, buffer: Buffer.alloc(1024) };
  shutdown.signal.addEventListener('abort', () => console.error('abort', state.id)); // LEAK
  await new Promise((resolve) => setImmediate(resolve));
}

export async function main() {
  for (let i = 0; i < 20; i++) await handle(i);
}

await runIfMain(import.meta, main);
