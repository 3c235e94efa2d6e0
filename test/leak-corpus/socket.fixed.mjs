// Fixed: each connection is destroyed when its request context ends, and the server is closed
// (after its accepted sockets) when the work is done.
import net from 'node:net';
import { afterFunc, background, withTimeout } from 'leashjs';
import { runIfMain } from './run-main.mjs';

export async function main() {
  const accepted = new Set();
  const server = net.createServer((s) => {
    accepted.add(s);
    s.on('close', () => accepted.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address();
  for (let i = 0; i < 3; i++) {
    const [ctx, cancel] = withTimeout(background(), 1000);
    const socket = net.connect(port, '127.0.0.1');
    afterFunc(ctx, () => socket.destroy());
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('ping');
    cancel();
    await new Promise((resolve) => socket.once('close', resolve));
  }
  for (const s of accepted) s.destroy();
  await new Promise((resolve) => server.close(resolve));
}

await runIfMain(import.meta, main);
