// Each request subscribes to config changes on a long-lived emitter and never unsubscribes.
import { EventEmitter } from 'node:events';
import { runIfMain } from './run-main.mjs';

const config = new EventEmitter();
config.setMaxListeners(0);

async function handle(id) {
  config.on('change', () => console.error('config changed during', id)); // LEAK
  await new Promise((resolve) => setImmediate(resolve));
}

export async function main() {
  for (let i = 0; i < 20; i++) await handle(i);
}

await runIfMain(import.meta, main);
