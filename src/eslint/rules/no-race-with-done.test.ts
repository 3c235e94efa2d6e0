import { jsTester, tsTester } from '../test-support/rule-tester.js';
import { noRaceWithDone } from './no-race-with-done.js';

const imp = "import { background, withCancel, sleep } from 'leashjs';\n";

jsTester.run('no-race-with-done', noRaceWithDone, {
  valid: [
    // The leak-free form.
    `import { abortable } from 'leashjs'; async function f(ctx, work) { return abortable(ctx, work()); }`,
    // A race between two per-call promises.
    `async function f(work) { return Promise.race([work(), new Promise((r) => setTimeout(r, 10))]); }`,
    // A task handle's done is not a context's.
    `import { go } from 'leashjs/task'; async function f(parent) { const t = go(parent, run); return Promise.race([t.done, other()]); }`,
    // A per-call promise declared in the same function, raced once.
    `async function f() { const stop = new Promise((r) => setTimeout(r, 5)); return Promise.race([work(), stop]); }`,
    // A promise declared inside the loop body: one per iteration, settles with it.
    `async function f() { for (let i = 0; i < 3; i++) { const t = new Promise((r) => setTimeout(r, 5)); await Promise.race([work(i), t]); } }`,
    // A local Promise class is not the global one.
    `class Promise { static race() {} } function f(ctx) { Promise.race([ctx.done]); }`,
  ],
  invalid: [
    // The design's example: race against ctx.done, with the abortable suggestion.
    {
      code: `${imp}async function handle(ctx, work) {
  return Promise.race([work(), ctx.done]);
}`,
      errors: [
        {
          messageId: 'done',
          data: { ctx: 'ctx' },
          suggestions: [
            {
              messageId: 'useAbortable',
              output: `import { background, withCancel, sleep, abortable } from 'leashjs';
async function handle(ctx, work) {
  return abortable(ctx, work());
}`,
            },
          ],
        },
      ],
    },
    // abortable already imported.
    {
      code: `import { abortable } from 'leashjs';
async function handle(ctx, job) { await Promise.race([ctx.done, job]); }`,
      errors: [
        {
          messageId: 'done',
          suggestions: [
            {
              messageId: 'useAbortable',
              output: `import { abortable } from 'leashjs';
async function handle(ctx, job) { await abortable(ctx, job); }`,
            },
          ],
        },
      ],
    },
    // Three-way race: reported, no suggestion (abortable takes one promise).
    {
      code: `${imp}async function f(ctx, a, b) { await Promise.race([a, b, ctx.done]); }`,
      errors: [{ messageId: 'done', suggestions: [] }],
    },
    // A context variable from withCancel, through a variable holding its done.
    {
      code: `${imp}const [shutdown, stop] = withCancel(background());
const stopped = shutdown.done;
export async function loop(work) { for (;;) await Promise.race([work(), stopped]); }`,
      errors: [{ messageId: 'done', suggestions: 1 }],
    },
    // A hand-made promise listening on ctx.signal.
    {
      code: `${imp}async function f(ctx, work) {
  return Promise.race([work(), new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.err)))]);
}`,
      errors: [{ messageId: 'signal', suggestions: 1 }],
    },
    // events.once on ctx.signal.
    {
      code: `import { once } from 'node:events';
async function f(ctx, work) { await Promise.race([work(), once(ctx.signal, 'abort')]); }`,
      errors: [{ messageId: 'signal', suggestions: [] }],
    },
    // The corpus pattern: a module-level shutdown promise raced in a loop.
    {
      code: `let stop;
const shutdown = new Promise((resolve) => { stop = resolve; });
export async function main(work) {
  let sum = 0;
  for (let i = 0; i < 200; i++) sum += await Promise.race([work(i), shutdown]);
  return sum;
}`,
      errors: [{ messageId: 'longLived', data: { name: 'shutdown' }, line: 5 }],
    },
    // Declared in the function, raced in its loop.
    {
      code: `async function f(work) {
  const stopped = new Promise((r) => process.once('SIGTERM', r));
  while (true) { await Promise.race([work(), stopped]); }
}`,
      errors: [{ messageId: 'longLived' }],
    },
  ],
});

tsTester.run('no-race-with-done (TypeScript)', noRaceWithDone, {
  valid: [],
  invalid: [
    {
      code: `import type { Context } from 'leashjs';
export async function f(reqCtx: Context, p: Promise<number>): Promise<unknown> { return Promise.race([p, reqCtx.done as Promise<void>]); }`,
      errors: [{ messageId: 'done', suggestions: [] }],
    },
  ],
});
