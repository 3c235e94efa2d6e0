// Fixed: the worker is a task with a context; each wait is sleep(ctx, ms), which rejects when the
// context ends, and the caller cancels and waits for it.
import { background, isCanceled, sleep, withCancel } from 'leashjs';
import { go } from 'leashjs/task';
import { runIfMain } from './run-main.mjs';

export let processed = 0;

export async function main() {
  const [ctx, cancel] = withCancel(background());
  const task = go(ctx, async (ctx) => {
    try {
      for (;;) {
        await sleep(ctx, 10);
        processed++;
      }
    } catch (err) {
      if (!isCanceled(err)) throw err;
    }
  });
  await sleep(background(), 30);
  cancel();
  await task.done;
}

await runIfMain(import.meta, main);
