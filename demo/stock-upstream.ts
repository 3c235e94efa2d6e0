// The dependency of the demo's second part: a "stock" HTTP service on loopback that is healthy by
// itself (10 to 25 ms an answer). The flakiness comes from leashjs/chaos, switched on mid-run in
// the orders service's calls to it. It stops working on a request whose caller hung up, so that
// nothing it started outlives the demo.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StockUpstream {
  readonly url: string;
  /** started is how many calls it received. */
  readonly started: number;
  /** open is how many calls it is working on right now. */
  readonly open: number;
  close(): Promise<void>;
}

export async function startStockUpstream(): Promise<StockUpstream> {
  let started = 0;
  let open = 0;
  const server = http.createServer((req, res) => {
    const n = started++;
    open++;
    let finished = false;
    const end = () => {
      if (finished) return;
      finished = true;
      open--;
      clearTimeout(timer);
    };
    // A caller that hangs up (its context ended) closes the response: stop there, timer included.
    res.once('close', end);
    const timer = setTimeout(
      () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ sku: req.url?.slice('/stock/'.length), inStock: n % 5 }));
        end();
      },
      10 + (n % 4) * 5,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get started() {
      return started;
    },
    get open() {
      return open;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
