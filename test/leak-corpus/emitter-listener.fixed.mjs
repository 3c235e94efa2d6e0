// Fixed: the subscription lives as long as the request's context; afterFunc removes it.
import { EventEmitter } from 'node:events';
import { afterFunc, background, withCancel } from 'leashjs';
import { runIfMain } from './run-main.mjs';

const config = new EventEmitter();

async function handle(id) {
  const [ctx, cancel] = withCancel(background());
  const onChange = () => console.error('config changed during', id);
  config.on('change', onChange);
  afterFunc(ctx, () => config.off('change', onChange));
  try {
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    cancel();
  }
}

export async function main() {
  for (let i = 0; i < 20; i++) await handle(i);
  // afterFunc callbacks run in a microtask after cancel.
  await new Promise((resolve) => setImmediate(resolve));
}

await runIfMain(import.meta, main);
