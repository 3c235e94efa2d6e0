// A server is started and never closed, and each request opens a connection to it that is never
// closed: both keep the process alive.
import net from 'node:net';
import { runIfMain } from './run-main.mjs';

export async function main() {
  const server = net.createServer(() => {}).listen(0, '127.0.0.1'); // LEAK
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address();
  for (let i = 0; i < 3; i++) {
    const socket = net.connect(port, '127.0.0.1'); // LEAK
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('ping');
  }
}

await runIfMain(import.meta, main);
