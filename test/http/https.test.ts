// node:https uses the same adapter (withContext) and the same shutdown (serve) as node:http.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Context } from '../../src/context/index.js';
import { afterFunc, background, cause, sleep, withCancel } from '../../src/context/index.js';
import {
  ClientGoneError,
  requestIdKey,
  ServerShutdownError,
  serve,
  withContext,
} from '../../src/http/index.js';
import { within } from './apps.js';

function selfSigned(): { key: Buffer; cert: Buffer } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'leash-https-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'].concat([
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ]),
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('node:https: request contexts, client disconnect and graceful shutdown (drain, then cancel) work as on node:http', async (t) => {
  const tls = selfSigned();
  if (!tls) return t.skip('openssl is not available to make a test certificate');
  const [stopCtx, stop] = withCancel(background());
  let slow: Context | undefined;
  let gone: ((ctx: Context) => void) | undefined;
  const goneCtx = new Promise<Context>((r) => {
    gone = r;
  });
  const server = https.createServer(
    tls,
    withContext(background(), async (req, res) => {
      if (req.url === '/slow') {
        slow = req.ctx;
        await sleep(req.ctx, 30_000).catch(() => {});
        res.end('cut short');
        return;
      }
      if (req.url === '/hang') {
        afterFunc(req.ctx, () => gone?.(req.ctx));
        await sleep(req.ctx, 30_000).catch(() => {});
        return;
      }
      res.end(String(req.ctx.value(requestIdKey)));
    }),
  );
  const served = serve(stopCtx, server, { drainMs: 500 });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const request = (path: string, headers: Record<string, string> = {}) =>
    https.get({ host: '127.0.0.1', port, path, headers, rejectUnauthorized: false, agent: false });
  try {
    const body = await new Promise<{ id: string | undefined; body: string }>((resolve, reject) => {
      request('/', { 'x-request-id': 'tls-1' })
        .on('response', (res) => {
          let b = '';
          res.on('data', (c: Buffer) => {
            b += c;
          });
          res.on('end', () => resolve({ id: res.headers['x-request-id'] as string | undefined, body: b }));
        })
        .on('error', reject);
    });
    assert.deepEqual(body, { id: 'tls-1', body: 'tls-1' });

    const hanging = request('/hang');
    hanging.on('error', () => {});
    await new Promise((r) => setTimeout(r, 200));
    hanging.destroy();
    const ctx = await within(goneCtx, 2000, 'the request context to end');
    assert.ok(cause(ctx) instanceof ClientGoneError);

    // A request still running at the drain deadline is cancelled with ServerShutdownError.
    const slowRequest = request('/slow');
    slowRequest.on('error', () => {});
    while (slow === undefined) await new Promise((r) => setTimeout(r, 10));
    stop();
    assert.deepEqual(await within(served, 3000, 'serve() to resolve'), {
      inFlight: 1,
      canceled: 1,
      refused: 0,
    });
    assert.ok(cause(slow) instanceof ServerShutdownError, String(cause(slow)));
    assert.equal(server.listening, false);
  } finally {
    stop();
    server.closeAllConnections();
  }
});
