import { jsTester } from '../test-support/rule-tester.js';
import { noOrphanResource } from './no-orphan-resource.js';

jsTester.run('no-orphan-resource', noOrphanResource, {
  valid: [
    // The handle is kept and cleared.
    'function start() { const h = setInterval(tick, 1000); return () => clearInterval(h); }',
    'function start(timers) { timers.push(setInterval(tick, 1000)); }',
    // A local setInterval is not the timer.
    'function setInterval() {} function f() { setInterval(); }',
    // A listener on something created per call, or on a parameter.
    "function handle(req) { req.on('data', (c) => body.push(c)); }",
    "function handle() { const e = new EventEmitter(); e.on('x', () => {}); }",
    // Added and removed.
    `import { afterFunc } from 'leashjs';
const config = new EventEmitter();
function handle(ctx) { const f = () => {}; config.on('change', f); afterFunc(ctx, () => config.off('change', f)); }`,
    // addEventListener with a signal or once.
    "const shutdown = new AbortController(); function handle(ctx) { shutdown.signal.addEventListener('abort', () => {}, { signal: ctx.signal }); }",
    "const shutdown = new AbortController(); function handle() { shutdown.signal.addEventListener('abort', () => {}, { once: true }); }",
    // Top-level registration runs once; process is a global.
    "const config = new EventEmitter(); config.on('change', () => {});",
    "function main() { process.on('SIGTERM', () => {}); }",
    // A server closed, a socket destroyed, or handed on.
    `import net from 'node:net';
async function main() { const server = net.createServer(() => {}).listen(0); await once(server, 'listening'); server.close(); }`,
    `import net from 'node:net';
function open(port) { const socket = net.connect(port); afterFunc(ctx, () => socket.destroy()); return socket.write('x'); }`,
    "import http from 'node:http'; function main() { const server = http.createServer(app); serve(server); }",
    "import net from 'node:net'; function open(port) { const s = net.connect(port); return s; }",
    // A program's top-level server runs until the process ends.
    "import http from 'node:http'; const server = http.createServer(app); server.listen(8080);",
  ],
  invalid: [
    // The corpus interval.
    {
      code: 'export let polls = 0;\nfunction subscribe() {\n  setInterval(() => polls++, 1000);\n}',
      errors: [{ messageId: 'interval', line: 3 }],
    },
    // The corpus emitter listener.
    {
      code: "const config = new EventEmitter();\nasync function handle(id) {\n  config.on('change', () => console.error('config changed during', id));\n}",
      errors: [{ messageId: 'listener', data: { target: 'config', off: 'off' }, line: 3 }],
    },
    // The corpus signal listener.
    {
      code: "const shutdown = new AbortController();\nasync function handle(id) {\n  shutdown.signal.addEventListener('abort', () => console.error('abort', id));\n}",
      errors: [{ messageId: 'listener', data: { target: 'shutdown.signal', off: 'removeEventListener' } }],
    },
    // From an outer function's variable, in a per-request closure.
    {
      code: "function start(bus) { const cache = new EventEmitter(); return (req, res) => { cache.on('evict', () => res.end()); }; }",
      errors: [{ messageId: 'listener' }],
    },
    // The corpus socket program: a server never closed and sockets never destroyed.
    {
      code: `import net from 'node:net';
export async function main() {
  const server = net.createServer(() => {}).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address();
  for (let i = 0; i < 3; i++) {
    const socket = net.connect(port, '127.0.0.1');
    socket.write('ping');
  }
}`,
      errors: [
        { messageId: 'handle', data: { name: 'server', release: 'close' }, line: 3 },
        { messageId: 'handle', data: { name: 'socket', release: 'destroy' }, line: 7 },
      ],
    },
  ],
});
