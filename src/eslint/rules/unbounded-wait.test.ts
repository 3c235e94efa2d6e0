import { jsTester, tsTester } from '../test-support/rule-tester.js';
import { unboundedWait } from './unbounded-wait.js';

const imp =
  "import { once } from 'node:events';\nimport { background, todo, withTimeout } from 'leashjs';\nimport { Channel, go, select } from 'leashjs/task';\n";

jsTester.run('unbounded-wait', unboundedWait, {
  valid: [
    // once with the context's signal.
    `${imp}async function handle(ctx, socket) { await once(socket, 'drain', { signal: ctx.signal }); }`,
    // once outside any request or task (a program's startup).
    `${imp}async function main(server) { await once(server, 'listening'); }`,
    // A promise that also has a timer.
    `${imp}async function handle(req, socket) { await new Promise((resolve) => { socket.once('connect', resolve); setTimeout(resolve, 100); }); }`,
    // A listener promise outside a request or task (the corpus's fixed socket program).
    `${imp}async function main(socket) { await new Promise((resolve) => socket.once('connect', resolve)); }`,
    // A channel receive bound to a deadline.
    `${imp}async function handle(ctx, ch) { const [c, cancel] = withTimeout(ctx, 20); try { return await ch.recv(c); } finally { cancel(); } }`,
    // A task started on a cancellable context.
    `${imp}function start(parent, ch) { go(parent, async (ctx) => { await ch.recv(ctx); }); }`,
    // A promise that settles from a timer.
    'function pause(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }',
    // resolve stored for later: it may be called from anywhere.
    'let stop; const shutdown = new Promise((resolve) => { stop = resolve; });',
    // arguments used in a function executor.
    'const p = new Promise(function () { arguments[0](1); });',
    // A leash wait given background() in a program's main.
    `${imp}async function main(ch) { await ch.recv(background()); }`,
  ],
  invalid: [
    // The article's first example: a task blocked on a channel nobody sends on.
    {
      code: `${imp}export function leak() {
  const ch = new Channel();
  go(background(), async (ctx) => {
    const { value } = await ch.recv(ctx);
    console.log(value);
  });
}`,
      errors: [
        {
          message:
            "ch.recv() is given 'ctx', the context of a task started on background(), a context with no deadline and no cancel: nothing can release this wait. Pass the caller's ctx or a withTimeout child of it.",
          line: 7,
        },
      ],
    },
    // The article's incident: a handler waits with background().
    {
      code: `${imp}app.get('/orders', async (req, res) => {
  const { value } = await replies.recv(background());
  res.json(value);
});`,
      errors: [{ messageId: 'background', data: { op: 'replies.recv()', what: 'background()' } }],
    },
    {
      code: `${imp}async function handle(ctx, a, b) { const root = todo(); await select(root, [a.recvCase(), b.recvCase()]); }`,
      errors: [{ messageId: 'background', data: { op: 'select()', what: "'root' (background())" } }],
    },
    // once in a handler, with the signal suggestion.
    {
      code: `${imp}async function handle(ctx, socket) {
  await once(socket, 'drain');
}`,
      errors: [
        {
          messageId: 'once',
          data: { event: 'drain' },
          suggestions: [
            {
              messageId: 'addSignal',
              output: `${imp}async function handle(ctx, socket) {
  await once(socket, 'drain', { signal: ctx.signal });
}`,
            },
          ],
        },
      ],
    },
    {
      code: `import events from 'node:events';
http.createServer(async (req, res) => { await events.once(req, 'end'); res.end(); });`,
      errors: [{ messageId: 'once', suggestions: [] }],
    },
    // A promise that only a listener settles, inside a task.
    {
      code: `${imp}go(parent, async (ctx) => {
  await new Promise((resolve, reject) => { queue.on('job', resolve); queue.on('error', (e) => reject(e)); });
});`,
      errors: [{ messageId: 'listener' }],
    },
    // The corpus forever promise: the executor never resolves.
    {
      code: `function waitForReply() {
  return new Promise(() => {});
}`,
      errors: [{ messageId: 'never', line: 2 }],
    },
    {
      code: 'const p = new Promise((resolve, reject) => { console.log(1); });',
      errors: [{ messageId: 'never' }],
    },
  ],
});

tsTester.run('unbounded-wait (TypeScript)', unboundedWait, {
  valid: [],
  invalid: [
    {
      code: `import { background, type Context } from 'leashjs';
import { go } from 'leashjs/task';
go(background(), async (ctx: Context) => { await (ch as Chan).send(ctx, 1); });`,
      errors: [{ messageId: 'background' }],
    },
  ],
});
