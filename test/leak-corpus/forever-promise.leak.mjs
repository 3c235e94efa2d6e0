// Each request waits for a reply that nobody will ever send: the resolve function is dropped, so
// the awaiting handler is stuck forever and both promises are garbage.
import { runIfMain } from './run-main.mjs';

function waitForReply() {
  return new Promise(() => {}); // LEAK
}

async function handle(id) {
  const reply = await waitForReply();
  return `${id}: ${reply}`;
}

export async function main() {
  for (let i = 0; i < 20; i++) handle(i);
}

await runIfMain(import.meta, main);
