// The demo's clients: plain node:http requests that give up after a client-side timeout, like a
// browser or a gateway would, by closing their connection.
import http from 'node:http';

export interface LoadOptions {
  requests: number;
  concurrency: number;
  /** clientTimeoutMs is when a client gives up and disconnects; it is also sent as x-request-timeout. */
  clientTimeoutMs: number;
}

export interface LoadResult {
  requests: number;
  ok: number;
  /** failed counts answers other than 200 (502, 504, ...). */
  failed: number;
  /** timedOut counts clients that gave up and disconnected. */
  timedOut: number;
  /** latencies in ms of every request, up to its answer or its give-up. */
  latencies: number[];
}

export async function runLoad(url: string, opts: LoadOptions): Promise<LoadResult> {
  const result: LoadResult = { requests: opts.requests, ok: 0, failed: 0, timedOut: 0, latencies: [] };
  let next = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      let done = false;
      const finish = (kind: 'ok' | 'failed' | 'timedOut') => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        result[kind]++;
        result.latencies.push(performance.now() - t0);
        resolve();
      };
      const req = http.get(
        `${url}/orders/${next}`,
        { agent: false, headers: { 'x-request-timeout': String(opts.clientTimeoutMs) } },
        (res) => {
          res.resume();
          res.on('end', () => finish(res.statusCode === 200 ? 'ok' : 'failed'));
          res.on('error', () => finish('failed'));
        },
      );
      req.on('error', () => finish('failed'));
      const timer = setTimeout(() => {
        finish('timedOut');
        req.destroy();
      }, opts.clientTimeoutMs);
    });
  const worker = async () => {
    while (next < opts.requests) {
      next++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  return result;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
