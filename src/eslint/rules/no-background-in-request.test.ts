import { jsTester, tsTester, typedFile, typedTester } from '../test-support/rule-tester.js';
import { noBackgroundInRequest } from './no-background-in-request.js';

const imp =
  "import { background, todo, withTimeout } from 'leashjs';\nimport { contextOf, currentContext } from 'leashjs/http';\n";

jsTester.run('no-background-in-request', noBackgroundInRequest, {
  valid: [
    // A program's root: main has no context to inherit.
    `${imp}async function main() { const [ctx, cancel] = withTimeout(background(), 1000); try { await run(ctx); } finally { cancel(); } }`,
    // Module level.
    `${imp}export const root = background();`,
    // The handler passes its context on.
    `${imp}app.get('/orders', async (req, res) => { res.json(await query(req.ctx, 'select 1')); });`,
    `${imp}async function handle(ctx, id) { const [c, cancel] = withTimeout(ctx, 100); try { return await load(c, id); } finally { cancel(); } }`,
    // A local function named background is not leash's.
    `function background() { return 1; } async function handle(ctx) { return background(); }`,
    `import { background } from 'some-other-lib'; async function handle(ctx) { return background(); }`,
    // A Context-typed-looking name that is not a parameter: no context held by this function.
    `${imp}function start() { const ctx = 1; return background(); }`,
  ],
  invalid: [
    // The article's incident: a handler that queries with context.Background().
    {
      code: `${imp}async function getOrders(ctx, db) {
  return db.query(background(), 'SELECT * FROM orders WHERE status = $1', ['pending']);
}`,
      errors: [
        {
          message:
            "background() inside a function that already has a context (ctx): the work is cut off from the caller's cancellation and deadline. Pass ctx (or withoutCancel(ctx) for work that must outlive it).",
          line: 4,
          suggestions: [
            {
              messageId: 'useCtx',
              output: `${imp}async function getOrders(ctx, db) {
  return db.query(ctx, 'SELECT * FROM orders WHERE status = $1', ['pending']);
}`,
            },
          ],
        },
      ],
    },
    // req.ctx from the Express adapter.
    {
      code: `${imp}app.get('/orders', async (req, res) => {
  const [ctx, cancel] = withTimeout(todo(), 3000);
  try { res.json(await query(ctx)); } finally { cancel(); }
  void req.ctx;
});`,
      errors: [
        {
          messageId: 'background',
          data: { call: 'todo', ctx: 'req.ctx' },
          suggestions: [
            {
              messageId: 'useCtx',
              output: `${imp}app.get('/orders', async (req, res) => {
  const [ctx, cancel] = withTimeout(req.ctx, 3000);
  try { res.json(await query(ctx)); } finally { cancel(); }
  void req.ctx;
});`,
            },
          ],
        },
      ],
    },
    // contextOf(req) in scope.
    {
      code: `${imp}async function handler(req, res) {
  const reqCtx = contextOf(req);
  await save(reqCtx, req.body);
  await audit(background(), req.body);
}`,
      errors: [{ messageId: 'background', suggestions: 1 }],
    },
    // currentContext(), and the call sits in a nested callback.
    {
      code: `${imp}async function handler(req, res) {
  const ctx = currentContext();
  items.forEach((i) => publish(background(), i));
}`,
      errors: [{ messageId: 'background', suggestions: 1 }],
    },
    // Used before the context variable exists: reported, but no suggestion (TDZ).
    {
      code: `${imp}async function handler(req, res) {
  await audit(background(), req.body);
  const ctx = contextOf(req);
}`,
      errors: [{ messageId: 'background', suggestions: [] }],
    },
    // Aliased import.
    {
      code: `import { background as root } from 'leashjs';
export async function load(ctx, id) { return fetchUser(root(), id); }`,
      errors: [{ messageId: 'background', suggestions: 1 }],
    },
    // A task's callback has ctx.
    {
      code: `import { go } from 'leashjs/task'; import { background } from 'leashjs';
go(parent, async (ctx) => { await sleep(background(), 10); });`,
      errors: [{ messageId: 'background', suggestions: 1 }],
    },
  ],
});

tsTester.run('no-background-in-request (TypeScript)', noBackgroundInRequest, {
  valid: [`import { background, type Context } from 'leashjs'; export const root: Context = background();`],
  invalid: [
    {
      code: `import { background, type Context } from 'leashjs';
export async function load(parent: Context, id: string): Promise<unknown> { return get(background(), id); }`,
      errors: [{ messageId: 'background', data: { call: 'background', ctx: 'parent' }, suggestions: 1 }],
    },
  ],
});

// With type information a context is found by its type, through an alias the syntax cannot see.
const typedHead =
  "import type { Context, KoaContext } from './context.js';\ntype Ctx = Context;\nimport { background } from 'leashjs';\n";

typedTester.run('no-background-in-request (type-aware)', noBackgroundInRequest, {
  valid: [
    // Named ctx, but Koa's: the type decides.
    {
      code: `${typedHead}export function mw(ctx: KoaContext): Context { return background(); }`,
      filename: typedFile,
    },
  ],
  invalid: [
    {
      code: `${typedHead}export function load(reqContext: Ctx): Context { return background(); }`,
      filename: typedFile,
      errors: [{ messageId: 'background', data: { call: 'background', ctx: 'reqContext' }, suggestions: 1 }],
    },
  ],
});
