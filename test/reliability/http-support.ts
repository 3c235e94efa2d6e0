// Support for the leashjs/http reliability tests: load generators over real loopback sockets that
// record exactly what every client saw (answer, status, Connection header, or the socket error).
import http from 'node:http';
import { background, sleep } from '../../src/context/index.js';
import { fetch, withContext } from '../../src/http/index.js';

export interface Outcome {
  /** When the client got its answer or error (performance.now()). */
  at: number;
  status?: number;
  connection?: string;
  body?: string;
  /** The x-after-drain header the server set: '1' when the answer was written after the drain began. */
  afterDrain?: boolean;
  /** The socket error code (ECONNREFUSED, ECONNRESET, ...), when there was no answer. */
  error?: string;
}

/** request makes one GET and resolves with what happened; it never rejects. */
export function request(url: string, agent: http.Agent | false, timeoutMs = 10_000): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (o: Omit<Outcome, 'at'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ at: performance.now(), ...o });
    };
    const req = http.get(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () =>
        done({
          status: res.statusCode ?? 0,
          connection: String(res.headers.connection ?? ''),
          body,
          afterDrain: res.headers['x-after-drain'] === '1',
        }),
      );
      res.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message }));
    const timer = setTimeout(() => {
      done({ error: 'CLIENT_TIMEOUT' });
      req.destroy();
    }, timeoutMs);
  });
}

/** count groups outcomes as "200", "503", "ECONNREFUSED", ... */
export function count(outcomes: Outcome[]): Record<string, number> {
  const m: Record<string, number> = {};
  for (const o of outcomes) {
    const k = o.error ?? String(o.status);
    m[k] = (m[k] ?? 0) + 1;
  }
  return m;
}

export const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * serviceHandler is the service of the shutdown tests, in-process and in the SIGTERM child alike:
 * /hang waits on a hung upstream through leash's fetch until its request context ends; anything
 * else answers after 20 ms.
 */
export function serviceHandler(upstream: string, onStart?: () => void): http.RequestListener {
  return withContext(background(), async (req, res) => {
    onStart?.();
    if (req.url === '/hang') {
      const r = await fetch(req.ctx, `${upstream}/hang`);
      res.end(await r.text());
      return;
    }
    await sleep(req.ctx, 20);
    res.end('ok');
  }) as http.RequestListener;
}

/** countAdmitted counts the requests the server admitted (its 'request' event) and answered completely. */
export function countAdmitted(server: http.Server): { admitted: number; finished: number } {
  const counts = { admitted: 0, finished: 0 };
  server.on('request', (_req, res: http.ServerResponse) => {
    counts.admitted++;
    res.once('finish', () => counts.finished++);
  });
  return counts;
}

/**
 * load runs `workers` clients, each opening a new connection per request (every `hangEvery`-th
 * worker asks for /hang), until `until()` returns a time that has passed; collects every outcome.
 */
export function load(
  url: string,
  workers: number,
  hangEvery: number,
  until: () => number,
  outcomes: Outcome[],
): Promise<void> {
  const worker = async (i: number) => {
    while (performance.now() < until()) {
      const o = await request(`${url}${i % hangEvery === 0 ? '/hang' : '/fast'}`, false, 10_000);
      outcomes.push(o);
      if (o.error !== undefined) await sleepMs(5);
    }
  };
  return Promise.all(Array.from({ length: workers }, (_, i) => worker(i))).then(() => {});
}

/**
 * answeredOrRefused: a request either got an answer (200, or 503 from the shutdown) or its
 * connection was refused; or it was reset by the kernel while still in the accept queue when the
 * server stopped listening (never admitted: the tests prove it by counting what the server admitted).
 */
export function answeredOrRefused(o: Outcome): boolean {
  return o.status === 200 || o.status === 503 || o.error === 'ECONNREFUSED' || o.error === 'ECONNRESET';
}
