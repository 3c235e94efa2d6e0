// Each subscription starts a poller that is never stopped: the intervals pile up and keep the
// process alive forever.
import { runIfMain } from './run-main.mjs';

export let polls = 0;

function subscribe() {
  setInterval(() => polls++, 1000); // LEAK
}

export async function main() {
  for (let i = 0; i < 5; i++) subscribe();
}

await runIfMain(import.meta, main);
