// leashjs/http fetch against real servers on 127.0.0.1.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import {
  background,
  CanceledError,
  DeadlineExceededError,
  withCancel,
  withCancelCause,
  withTimeout,
  withValue,
} from '../../src/context/index.js';
import { fetch, requestIdKey } from '../../src/http/index.js';
import type { Upstream } from './apps.js';
import { startUpstream, within } from './apps.js';

let upstream: Upstream;
before(async () => {
  upstream = await startUpstream();
});
after(async () => {
  await upstream.close();
});

test('fetch rejects with ctx.err when the context is cancelled, and the server sees its socket close', async () => {
  const [ctx, cancel] = withCancelCause(background());
  const arrived = upstream.arrived();
  const pending = fetch(ctx, `${upstream.url}/hang`).then(
    () => undefined,
    (e: unknown) => e,
  );
  const up = await within(arrived, 3000, 'the request');
  const t0 = performance.now();
  cancel(new Error('caller gave up'));
  const err = await pending;
  assert.ok(err instanceof CanceledError, `rejected with ${String(err)}`);
  assert.equal(err, ctx.err);
  const closedAt = await within(up.closed, 2000, 'the upstream socket to close');
  assert.ok(closedAt - t0 < 500);
});

test('fetch rejects with the DeadlineExceededError at the deadline and sends the budget', async () => {
  const [ctx, cancel] = withTimeout(background(), 150);
  const arrived = upstream.arrived();
  const err = await fetch(ctx, `${upstream.url}/hang`).then(
    () => undefined,
    (e: unknown) => e,
  );
  cancel();
  assert.ok(err instanceof DeadlineExceededError);
  const up = await arrived;
  const sent = Number(up.headers['x-request-timeout']);
  assert.ok(sent <= 150 && sent > 50, `sent x-request-timeout ${sent}`);
  await within(up.closed, 2000, 'the upstream socket to close');
});

test('fetch on an ended context rejects at once without a request', async () => {
  const [ctx, cancel] = withCancel(background());
  cancel();
  const before = upstream.requests.length;
  await assert.rejects(fetch(ctx, `${upstream.url}/echo`), (e) => e === ctx.err);
  assert.equal(upstream.requests.length, before);
});

test('fetch keeps caller headers, a smaller caller timeout, and also aborts on init.signal', async () => {
  const [ctx, cancel] = withTimeout(withValue(background(), requestIdKey, 'rid-1'), 5000);
  const r = await fetch(ctx, `${upstream.url}/echo`, {
    headers: { 'x-request-timeout': '100', 'x-custom': 'yes', 'x-request-id': 'mine' },
  });
  const seen = (await r.json()) as Record<string, string>;
  assert.equal(seen['x-request-timeout'], '100');
  assert.equal(seen['x-custom'], 'yes');
  assert.equal(seen['x-request-id'], 'mine');

  const r2 = await fetch(ctx, `${upstream.url}/echo`);
  assert.equal(((await r2.json()) as Record<string, string>)['x-request-id'], 'rid-1');

  const ac = new AbortController();
  const reason = new Error('mine');
  const pending = fetch(ctx, `${upstream.url}/hang`, { signal: ac.signal }).then(
    () => undefined,
    (e: unknown) => e,
  );
  await upstream.arrived();
  ac.abort(reason);
  assert.equal(await pending, reason, 'aborting init.signal rejects with its reason, the context lives on');
  assert.equal(ctx.err, undefined);
  cancel();
});

test('fetch with init.signal on a long-lived context retains neither the signal nor anything tied to it once the response is read', async () => {
  // The pairing of ctx and init.signal used to be a child context linked under ctx until ctx ended,
  // so every successful call with its own signal stayed reachable from a long-lived context.
  const [ctx, cancel] = withCancel(background());
  const refs: WeakRef<AbortSignal>[] = [];
  for (let i = 0; i < 50; i++) {
    const ac = new AbortController();
    refs.push(new WeakRef(ac.signal));
    const r = await fetch(ctx, `${upstream.url}/echo`, { signal: ac.signal });
    await r.json();
  }
  for (let i = 0; i < 10 && refs.some((r) => r.deref() !== undefined); i++) {
    await new Promise((r) => setTimeout(r, 20));
    globalThis.gc?.();
  }
  const alive = refs.filter((r) => r.deref() !== undefined).length;
  assert.ok(globalThis.gc, 'run with --expose-gc');
  assert.ok(alive <= 1, `${alive} of 50 per-call signals are still reachable while ctx lives`);
  cancel();
});

test('fetch rejects a non-context with LEASH_ERR_INVALID_ARG', async () => {
  await assert.rejects(fetch('http://x' as never, 'http://x'), { code: 'LEASH_ERR_INVALID_ARG' });
});

test('leashjs/http loads without express, fastify or koa installed', () => {
  // A loader hook makes the three frameworks unresolvable, as for a user who has none of them.
  const hook = `data:text/javascript,${encodeURIComponent(`
    export async function resolve(spec, ctx, next) {
      if (/^(express|fastify|koa)(\\/|$)/.test(spec)) throw new Error('not installed: ' + spec);
      return next(spec, ctx);
    }`)}`;
  const register = `data:text/javascript,${encodeURIComponent(
    `import { register } from 'node:module'; register(${JSON.stringify(hook)});`,
  )}`;
  const out = spawnSync(
    process.execPath,
    [
      '--import',
      register,
      '--import',
      'tsx',
      '-e',
      `import('./src/http/index.ts').then(m => { if (typeof m.fetch !== 'function' || typeof m.fastifyContext !== 'function') process.exit(3); return import('express').then(() => process.exit(4), () => process.exit(0)); }, (e) => { console.error(e); process.exit(2); })`,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(out.status, 0, out.stderr);
});
