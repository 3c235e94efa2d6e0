// The article's first example: a goroutine receives from an unbuffered channel nobody sends on.
// The task is blocked forever; nothing cancels it.
import { background } from 'leashjs';
import { Channel, go } from 'leashjs/task';
import { runIfMain } from './run-main.mjs';

export async function main() {
  const ch = new Channel();
  go(background(), async (ctx) => {
    const { value } = await ch.recv(ctx); // LEAK
    console.error(value);
  });
}

await runIfMain(import.meta, main);
