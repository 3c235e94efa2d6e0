// Fixed: each request derives a context from the shutdown signal and cancels it when done, which
// removes its listener.
import { background, fromSignal } from 'leashjs';
import { runIfMain } from './run-main.mjs';

const shutdown = new AbortController();

async function handle(id) {
  const [ctx, cancel] = fromSignal(background(), shutdown.signal);
  try {
    const state = { id, buffer: Buffer.alloc(1024) };
    if (ctx.err) console.error('abort', state.id);
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    cancel();
  }
}

export async function main() {
  for (let i = 0; i < 20; i++) await handle(i);
}

await runIfMain(import.meta, main);
