// The deliberately slow and flaky dependency of the demo: an "inventory" HTTP service on loopback.
// Its behaviour is a fixed pattern over request numbers, so every run (and the test) sees the same
// mix: most answers are quick, some are slow, some hang for a long time, some fail.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Dependency {
  /** name says what the dependency is, for the table header. */
  readonly name: string;
  /** open is how many calls the dependency is still working on right now. */
  open(): Promise<number>;
  /** started is how many calls it received. */
  readonly started: number;
  close(): Promise<void>;
}

export interface InventoryUpstream extends Dependency {
  readonly url: string;
}

/** delayFor returns how long request n takes and whether it fails: 10% hang 8 s, 20% take 1 s, 5% fail. */
export function delayFor(n: number): { ms: number; fail: boolean } {
  const slot = n % 20;
  if (slot === 0 || slot === 10) return { ms: 8_000, fail: false };
  if (slot % 5 === 1) return { ms: 1_000, fail: false };
  return { ms: 20 + (n % 7) * 5, fail: slot === 7 };
}

export async function startInventory(
  onSpan?: (name: string, start: number, end: number) => void,
): Promise<InventoryUpstream> {
  let open = 0;
  let started = 0;
  const server = http.createServer((req, res) => {
    const n = started++;
    open++;
    const t0 = performance.now();
    const { ms, fail } = delayFor(n);
    let finished = false;
    const end = () => {
      if (finished) return;
      finished = true;
      open--;
      clearTimeout(timer);
      onSpan?.(`inventory #${n}`, t0, performance.now());
    };
    // The upstream stops working on a request whose caller hung up: that is what the leash side
    // achieves by really closing the connection.
    res.once('close', end);
    const timer = setTimeout(() => {
      res.statusCode = fail ? 500 : 200;
      res.end(fail ? 'inventory failed' : JSON.stringify({ sku: req.url, inStock: n % 3 }));
    }, ms);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    name: 'HTTP inventory service on loopback',
    url: `http://127.0.0.1:${port}`,
    open: async () => open,
    get started() {
      return started;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
