// chaosHandler: the run-time switch on a real server, beside an app; strict validation over HTTP.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { background } from 'leashjs';
import { chaos, chaosController, chaosHandler } from 'leashjs/chaos';

const controller = chaosController({ name: 'api', seed: 5, faults: [{ type: 'error', probability: 1 }] });
const handler = chaosHandler(controller);
let server: http.Server;
let base: string;

before(async () => {
  server = http.createServer((req, res) => {
    if (handler(req, res)) return;
    res.end('app');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function call(method: string, path: string, body?: string) {
  const res = await fetch(`${base}${path}`, {
    method,
    body,
    headers: body ? { 'content-type': 'application/json' } : {},
  });
  const text = await res.text();
  return {
    status: res.status,
    text,
    json:
      /json/.test(res.headers.get('content-type') ?? '') && method !== 'HEAD' ? JSON.parse(text) : undefined,
    headers: res.headers,
  };
}

test('GET shows the controller as JSON; other paths go to the app', async () => {
  const r = await call('GET', '/debug/leash/chaos');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /application\/json/);
  assert.equal(r.json.name, 'api');
  assert.equal(r.json.enabled, true);
  assert.equal(r.json.seed, 5);
  assert.deepEqual(r.json.faults, [{ type: 'error', probability: 1 }]);
  assert.equal((await call('GET', '/debug/leash/chaos?pretty=1')).status, 200);
  assert.equal((await call('GET', '/debug/leash/chaosx')).text, 'app');
  assert.equal((await call('GET', '/')).text, 'app');
});

test('POST {"enabled": false} switches chaos off for the next call; PUT a patch switches it back', async () => {
  const p = chaos(controller);
  await assert.rejects(
    p.execute(background(), async () => 1),
    { code: 'LEASH_ERR_CHAOS' },
  );
  const off = await call('POST', '/debug/leash/chaos', '{"enabled": false}');
  assert.equal(off.status, 200);
  assert.equal(off.json.enabled, false);
  assert.equal(controller.enabled, false);
  assert.equal(await p.execute(background(), async () => 1), 1);
  const on = await call(
    'PUT',
    '/debug/leash/chaos',
    JSON.stringify({ enabled: true, seed: 9, faults: [{ type: 'latency', probability: 0.5, ms: 1 }] }),
  );
  assert.equal(on.status, 200);
  assert.deepEqual(on.json.faults, [{ type: 'latency', probability: 0.5, ms: 1 }]);
  assert.equal(on.json.decisions, 0);
  assert.equal(controller.toJSON().seed, 9);
});

test('a bad patch gets 400 with LEASH_ERR_INVALID_ARG and a did-you-mean, and changes nothing', async () => {
  const before = JSON.stringify(controller.toJSON());
  const typo = await call('POST', '/debug/leash/chaos', '{"enabeld": false}');
  assert.equal(typo.status, 400);
  assert.equal(typo.json.code, 'LEASH_ERR_INVALID_ARG');
  assert.match(typo.json.error, /unknown option "enabeld"; did you mean "enabled"\?/);
  const range = await call('POST', '/debug/leash/chaos', '{"faults": [{"type": "hang", "probability": 3}]}');
  assert.equal(range.status, 400);
  assert.match(
    range.json.error,
    /spec\.faults\[0\]\.probability must be a finite number from 0 to 1, got the number 3/,
  );
  const notJson = await call('POST', '/debug/leash/chaos', '{enabled: false}');
  assert.equal(notJson.status, 400);
  assert.match(notJson.json.error, /must be a JSON object/);
  const array = await call('POST', '/debug/leash/chaos', '[]');
  assert.equal(array.status, 400);
  const big = await call('POST', '/debug/leash/chaos', JSON.stringify({ name: 'x'.repeat(70_000) }));
  assert.equal(big.status, 413);
  assert.equal(JSON.stringify(controller.toJSON()), before);
});

test('other methods get 405 with Allow; HEAD has no body', async () => {
  const r = await call('DELETE', '/debug/leash/chaos');
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'GET, HEAD, POST, PUT');
  const h = await call('HEAD', '/debug/leash/chaos');
  assert.equal(h.status, 200);
  assert.equal(h.text, '');
});

test('Express-style: calls next() for other paths; bad options are rejected', () => {
  let nexts = 0;
  const h = chaosHandler(controller, { path: '/chaos' });
  assert.equal(
    h({ url: '/other', method: 'GET' } as http.IncomingMessage, {} as http.ServerResponse, () => nexts++),
    false,
  );
  assert.equal(nexts, 1);
  assert.throws(() => chaosHandler(controller, { pathh: '/x' } as never), /did you mean "path"/);
  assert.throws(() => chaosHandler(controller, { path: 'chaos' }), { code: 'LEASH_ERR_INVALID_ARG' });
  assert.throws(() => chaosHandler({} as never), /controller must be a ChaosController/);
});
