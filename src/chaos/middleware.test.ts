// The integrations' argument checks, and a server middleware mounted without leashjs/http's adapter.
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { test } from 'node:test';
import {
  chaosController,
  chaosFastify,
  chaosFetch,
  chaosHandler,
  chaosKoa,
  chaosMiddleware,
  chaosQuery,
  withChaos,
} from 'leashjs/chaos';

test('every integration rejects a controller that is not one, naming the call', () => {
  const makers: [string, (c: never) => unknown][] = [
    ['chaosMiddleware(controller)', chaosMiddleware],
    ['chaosKoa(controller)', chaosKoa],
    ['chaosFastify(controller)', chaosFastify],
    ['chaosFetch(controller)', chaosFetch],
    ['chaosQuery(controller)', chaosQuery],
    ['chaosHandler(controller, opts)', chaosHandler],
    ['withChaos(controller, handler)', (c) => withChaos(c, () => {})],
  ];
  for (const [where, make] of makers) {
    for (const bad of [undefined, {}, { faults: [] }, 'chaos']) {
      assert.throws(
        () => make(bad as never),
        (e: unknown) => {
          assert.equal((e as { code?: string }).code, 'LEASH_ERR_INVALID_ARG');
          assert.ok(
            (e as Error).message.startsWith(`${where}: controller must be a ChaosController`),
            (e as Error).message,
          );
          return true;
        },
      );
    }
  }
  assert.throws(() => withChaos(chaosController(), 'handler' as never), /handler must be a function/);
});

test('a middleware mounted without the leashjs/http adapter hands next() a clear LEASH_ERR_INVALID_ARG', async () => {
  const mw = chaosMiddleware(chaosController({ faults: [{ type: 'error', probability: 1 }] }));
  const req = { headers: {} } as IncomingMessage;
  const err = await new Promise<unknown>((resolve) => mw(req, {} as ServerResponse, resolve));
  assert.equal((err as { code?: string }).code, 'LEASH_ERR_INVALID_ARG');
  assert.match((err as Error).message, /mount the adapter/);
  await assert.rejects(
    chaosKoa(chaosController())({ req, res: {} as ServerResponse, state: {} }, async () => {}),
    /mount the adapter/,
  );
});

test('chaosFetch and chaosQuery reject a missing context before drawing anything', async () => {
  const c = chaosController({ faults: [{ type: 'error', probability: 1 }] });
  await assert.rejects(chaosFetch(c)(undefined as never, 'http://127.0.0.1:1/'), {
    code: 'LEASH_ERR_INVALID_ARG',
  });
  await assert.rejects(chaosQuery(c)({} as never, {} as never, 'SELECT 1'), {
    code: 'LEASH_ERR_INVALID_ARG',
  });
  assert.equal(c.toJSON().decisions, 0);
});
