// Fixed: abortable(ctx, work) is the race that unregisters from the long-lived context as soon as
// the work settles.
import { abortable, background, withCancel } from 'leashjs';
import { runIfMain } from './run-main.mjs';

const [shutdown, stop] = withCancel(background());

async function work(i) {
  await null;
  return i;
}

export async function main() {
  let sum = 0;
  for (let i = 0; i < 200; i++) {
    sum += await abortable(shutdown, work(i));
  }
  return { sum, stop };
}

await runIfMain(import.meta, main);
