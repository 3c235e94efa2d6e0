// Fixed: the reply arrives on a channel and the wait is bound to a deadline, so every handler
// finishes (with the reply or DeadlineExceededError) and nothing is left pending.
import { background, isDeadlineExceeded, withTimeout } from 'leashjs';
import { Channel } from 'leashjs/task';
import { runIfMain } from './run-main.mjs';

const replies = new Channel();

async function handle(id) {
  const [ctx, cancel] = withTimeout(background(), 20);
  try {
    const { value } = await replies.recv(ctx);
    return `${id}: ${value}`;
  } catch (err) {
    if (!isDeadlineExceeded(err)) throw err;
    return `${id}: timed out`;
  } finally {
    cancel();
  }
}

export async function main() {
  await Promise.all(Array.from({ length: 20 }, (_, i) => handle(i)));
}

await runIfMain(import.meta, main);
