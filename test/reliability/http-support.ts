// Support for the leashjs/http reliability tests: load generators over real loopback sockets that
// record exactly what every client saw (answer, status, Connection header, or the socket error).
import http from 'node:http';

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
