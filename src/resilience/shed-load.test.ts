import assert from 'node:assert/strict';
import type http from 'node:http';
import { test } from 'node:test';
import { bulkhead, rateLimiter, shedLoad } from './index.js';
import { serve } from './test-support/serve.js';

test('shedLoad answers 503 with Retry-After when the policy is full, and holds permits until responses end', async () => {
  const b = bulkhead({ limit: 2 });
  const shed = shedLoad(b);
  const releases: (() => void)[] = [];
  const srv = await serve((req, res) =>
    shed(req, res, () => {
      releases.push(() => res.end('ok'));
    }),
  );
  try {
    const first = [fetch(srv.url), fetch(srv.url)];
    while (releases.length < 2) await new Promise((r) => setTimeout(r, 2));
    assert.equal(b.active, 2);
    const shedRes = await fetch(srv.url);
    assert.equal(shedRes.status, 503);
    assert.equal(shedRes.headers.get('retry-after'), '1');
    for (const r of releases) r();
    const done = await Promise.all(first);
    assert.deepEqual(
      done.map((r) => r.status),
      [200, 200],
    );
    await Promise.all(done.map((r) => r.text()));
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(b.active, 0, 'permits released when the responses closed');
  } finally {
    await srv.close();
  }
});

test("Retry-After comes from the error's retryAfterMs (a rate limit), in whole seconds", async () => {
  const shed = shedLoad(rateLimiter({ rate: 1, perMs: 2_500, burst: 1 }));
  const srv = await serve((req, res) => shed(req, res, () => res.end('ok')));
  try {
    assert.equal((await fetch(srv.url)).status, 200);
    const r = await fetch(srv.url);
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '3');
  } finally {
    await srv.close();
  }
});

test('an error that is not load shedding goes to next(err); options are validated', async () => {
  const boom = new Error('boom');
  const shed = shedLoad({
    execute: () => Promise.reject(boom),
  });
  const seen: unknown[] = [];
  await new Promise<void>((resolve) => {
    shed({} as http.IncomingMessage, { headersSent: false } as http.ServerResponse, (err) => {
      seen.push(err);
      resolve();
    });
  });
  assert.deepEqual(seen, [boom]);
  assert.throws(() => shedLoad({} as never), { code: 'LEASH_ERR_INVALID_ARG' });
  assert.throws(
    () => shedLoad(bulkhead({ limit: 1 }), { retryAfter: 1 } as never),
    /did you mean "retryAfterSeconds"/,
  );
});
