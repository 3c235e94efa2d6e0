// A background worker loops forever; nothing tells it to stop, so it outlives its caller and keeps
// the process alive.
import { runIfMain } from './run-main.mjs';

export let processed = 0;

function pause(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms)); // LEAK
}

async function worker() {
  for (;;) {
    await pause(10);
    processed++;
  }
}

export async function main() {
  worker();
  await pause(30);
}

await runIfMain(import.meta, main);
