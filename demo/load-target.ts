// The target of `leash load --demo`: an "orders" endpoint whose handler does its work in a leash
// task (a 20 to 30 ms call, ended with the request), with leashjs/leak's debugHandler and its
// dashboard on a second loopback port, for the leak check and to watch it live. Started with the argument `leaky`, one request in ten also
// starts a background task that nothing ever ends: the gate's "nothing leaked" check catches it.
// Prints one JSON line, { url, debugUrl }, then serves until stdin closes or it gets SIGTERM.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { background, sleep } from '../src/context/index.js';
import { withContext } from '../src/http/index.js';
import { debugHandler } from '../src/leak/index.js';
import { go } from '../src/task/index.js';

const leaky = process.argv[2] === 'leaky';
let n = 0;
const orders = http.createServer(
  withContext(background(), async (req, res) => {
    const i = n++;
    if (leaky && i % 10 === 0) {
      // The bug: a background refresh tied to nothing, waiting for a signal that never comes.
      go(background(), () => new Promise<void>(() => {}), { name: 'refresh-stock' });
    }
    await go(req.ctx, (ctx) => sleep(ctx, 20 + (i % 11)), { name: 'reserve-stock' }).done;
    res.end(JSON.stringify({ order: i, ok: true }));
  }),
);
const debugRoutes = debugHandler({ dashboard: true, dashboardIntervalMs: 250 });
const debug = http.createServer(debugRoutes);
const listen = (s: http.Server) =>
  new Promise<number>((resolve) =>
    s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)),
  );
const [port, debugPort] = await Promise.all([listen(orders), listen(debug)]);
process.stdout.write(
  `${JSON.stringify({ url: `http://127.0.0.1:${port}/orders`, debugUrl: `http://127.0.0.1:${debugPort}/debug/leash` })}\n`,
);
const stop = () => {
  debugRoutes.close();
  orders.closeAllConnections();
  debug.closeAllConnections();
  orders.close();
  debug.close();
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
