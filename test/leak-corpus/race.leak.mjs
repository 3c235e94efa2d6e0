// Every iteration races its work against one long-lived shutdown promise. Each race adds a
// reaction to that promise that stays until shutdown: a promise per iteration that never settles.
import { runIfMain } from './run-main.mjs';

let stop;
const shutdown = new Promise((resolve) => {
  stop = resolve;
});

async function work(i) {
  await null;
  return i;
}

export async function main() {
  let sum = 0;
  for (let i = 0; i < 200; i++) {
    sum += await Promise.race([work(i), shutdown]); // LEAK
  }
  return { sum, stop };
}

await runIfMain(import.meta, main);
