// Fixed: the task gets a context that the caller cancels when it stops caring, so the receive
// rejects with CanceledError and the task ends.
import { background, isCanceled, withCancel } from 'leashjs';
import { Channel, go } from 'leashjs/task';
import { runIfMain } from './run-main.mjs';

export async function main() {
  const ch = new Channel();
  const [ctx, cancel] = withCancel(background());
  const task = go(ctx, async (ctx) => {
    try {
      await ch.recv(ctx);
    } catch (err) {
      if (!isCanceled(err)) throw err;
    }
  });
  cancel();
  await task.done;
}

await runIfMain(import.meta, main);
