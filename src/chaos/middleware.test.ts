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

test('an integration given an extra argument rejects it: they take no options', () => {
  const c = chaosController();
  const hint =
    '(it has no options: set faults and target with chaosController(spec) or controller.update(patch))';
  const cases: [string, () => unknown, string][] = [
    [
      'chaosMiddleware(controller)',
      () => (chaosMiddleware as Any)(c, { x: 1 }),
      'a second argument: an object',
    ],
    ['chaosKoa(controller)', () => (chaosKoa as Any)(c, {}), 'a second argument: an object'],
    [
      'chaosFastify(controller)',
      () => (chaosFastify as Any)(c, 'opts'),
      'a second argument: the string "opts"',
    ],
    ['chaosFetch(controller)', () => (chaosFetch as Any)(c, 5), 'a second argument: the number 5'],
    ['chaosQuery(controller)', () => (chaosQuery as Any)(c, undefined, null), 'a third argument: null'],
  ];
  for (const [where, make, got] of cases) {
    assert.throws(make, {
      name: 'TypeError',
      code: 'LEASH_ERR_INVALID_ARG',
      message: `${where}: takes one argument, the controller ${hint}; got ${got}`,
    });
  }
  assert.throws(() => (withChaos as Any)(c, () => {}, { x: 1 }), {
    code: 'LEASH_ERR_INVALID_ARG',
    message: `withChaos(controller, handler): takes two arguments, the controller and the handler ${hint}; got a third argument: an object`,
  });
  assert.throws(() => (chaosHandler as Any)(c, {}, 'x'), {
    code: 'LEASH_ERR_INVALID_ARG',
    message:
      'chaosHandler(controller, opts): takes two arguments, the controller and opts ({ path, maxBodyBytes }); got a third argument: the string "x"',
  });
  // An explicit undefined is no argument.
  assert.equal(typeof (chaosFetch as Any)(c, undefined), 'function');
});

type Any = (...a: unknown[]) => unknown;
