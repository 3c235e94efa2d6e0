// Fixed: the poller is a ticker bound to the subscription's context, which ends.
import { background, isDeadlineExceeded, withTimeout } from 'leashjs';
import { ticker } from 'leashjs/task';
import { runIfMain } from './run-main.mjs';

export let polls = 0;

async function subscribe() {
  const [ctx, cancel] = withTimeout(background(), 30);
  try {
    for await (const _ of ticker(ctx, 10)) polls++;
  } catch (err) {
    if (!isDeadlineExceeded(err)) throw err;
  } finally {
    cancel();
  }
}

export async function main() {
  await Promise.all(Array.from({ length: 5 }, () => subscribe()));
}

await runIfMain(import.meta, main);
