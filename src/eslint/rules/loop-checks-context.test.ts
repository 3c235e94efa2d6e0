import { jsTester, tsTester } from '../test-support/rule-tester.js';
import { loopChecksContext } from './loop-checks-context.js';

jsTester.run('loop-checks-context', loopChecksContext, {
  valid: [
    // The article's safeRoutine: the loop waits on the context (leash: sleep(ctx, ms) rejects when it ends).
    `import { sleep } from 'leashjs';
async function safeRoutine(ctx) { for (;;) { await sleep(ctx, 1000); console.log('working...'); } }`,
    // A ticker bound to ctx.
    `import { ticker } from 'leashjs/task';
async function poll(ctx) { for await (const _ of ticker(ctx, 1000)) { await refresh(); } }`,
    // ctx.err checked in the condition.
    `async function drain(ctx, q) { while (!ctx.err) { await q.next(); } }`,
    // ctx passed to the awaited call.
    `async function consume(ctx, ch) { while (true) { const { value, ok } = await ch.recv(ctx); if (!ok) return; use(value); } }`,
    // A signal derived from ctx.
    `async function f(ctx) { const signal = ctx.signal; for (;;) { await fetch(url, { signal }); } }`,
    // req.ctx in a handler.
    `async function handler(req, res) { while (more()) { await write(req.ctx, res); } }`,
    // A counted loop is bounded by its count.
    `async function f(ctx) { for (let i = 0; i < 3; i++) { await retryOnce(); } }`,
    // A loop that does not await is synchronous: the context cannot end under it.
    `function f(ctx) { while (true) { if (step()) break; } }`,
    // No context, but the endless loop has a way out.
    `async function f() { for (;;) { const msg = await next(); if (!msg) break; handle(msg); } }`,
    `async function f() { while (true) { if (await done()) return; } }`,
    // No context and an open-ended condition: bounded by data, not reported.
    `async function f(items) { while (items.length) { await handle(items.pop()); } }`,
    // A callback inside the loop that is given ctx observes it.
    `async function f(ctx) { while (true) { await Promise.all(jobs.map((j) => j(ctx))); } }`,
  ],
  invalid: [
    // The article: a loop that never checks ctx.Done().
    {
      code: `async function worker(ctx, queue) {
  for (;;) {
    const job = await queue.take();
    await job.run();
  }
}`,
      errors: [
        {
          messageId: 'unobserved',
          data: { ctx: 'ctx' },
          line: 2,
          suggestions: [
            {
              messageId: 'checkErr',
              output: `async function worker(ctx, queue) {
  for (;;) { if (ctx.err) throw ctx.err;
    const job = await queue.take();
    await job.run();
  }
}`,
            },
          ],
        },
      ],
    },
    // while with an open-ended condition, in a task.
    {
      code: `import { go } from 'leashjs/task';
go(parent, async (ctx) => {
  while (hasMore()) await pause(10);
});`,
      errors: [{ messageId: 'unobserved', line: 3, suggestions: [] }],
    },
    // do ... while in a handler with a context; break in an inner switch is not a way out of the check.
    {
      code: `async function handle(parentCtx) {
  do {
    switch (await step()) { case 1: break; default: continue; }
  } while (true);
}`,
      errors: [{ messageId: 'unobserved', data: { ctx: 'parentCtx' }, suggestions: 1 }],
    },
    // The corpus loop: no context at all and no way out.
    {
      code: `async function worker() {
  for (;;) {
    await pause(10);
    processed++;
  }
}`,
      errors: [{ messageId: 'endless', line: 2 }],
    },
    {
      code: `async function spin() { while (1) { for (const x of xs) { if (x) break; } await tick(); } }`,
      errors: [{ messageId: 'endless' }],
    },
  ],
});

tsTester.run('loop-checks-context (TypeScript)', loopChecksContext, {
  valid: [
    `import type { Context } from 'leashjs';
export async function f(c: Context): Promise<void> { while (c.err === undefined) { await step(); } }`,
  ],
  invalid: [
    {
      code: `import type { Context } from 'leashjs';
export async function f(c: Context): Promise<void> { for (;;) { await step(); } }`,
      errors: [{ messageId: 'unobserved', data: { ctx: 'c' }, suggestions: 1 }],
    },
  ],
});
