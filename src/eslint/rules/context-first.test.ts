import { jsTester, tsTester, typedFile, typedTester } from '../test-support/rule-tester.js';
import { contextFirst } from './context-first.js';

jsTester.run('context-first', contextFirst, {
  valid: [
    'async function load(ctx, id) {}',
    'function load(id) {}',
    // A callback's order is the caller's API.
    'arr.reduce((acc, ctx) => acc + ctx.weight, 0);',
    'app.use((req, res, context) => {});',
    // ESLint-style create(context) is first.
    'export function create(context) { return {}; }',
  ],
  invalid: [
    { code: 'async function load(id, ctx) {}', errors: [{ messageId: 'first', data: { name: 'ctx' } }] },
    {
      code: 'const f = function (db, query, context) {};',
      errors: [{ messageId: 'first', data: { name: 'context' } }],
    },
    { code: 'class Repo { async find(id, ctx) {} }', errors: [{ messageId: 'first' }] },
  ],
});

tsTester.run('context-first (TypeScript, no types)', contextFirst, {
  valid: [
    "import type { Context } from 'leashjs'; export async function load(ctx: Context, id: string): Promise<void> {}",
    "import type { Context } from 'leashjs'; export function withX(parent: Context): Context { return parent; }",
    // Annotated with something else: not a leash Context.
    "import type { Context } from 'koa'; export async function mw(next: () => Promise<void>, context: Context): Promise<void> {}",
    'export function f(id: string, ctx: SomethingElse): void {}',
  ],
  invalid: [
    {
      code: "import type { Context } from 'leashjs'; export async function load(id: string, c: Context): Promise<void> {}",
      errors: [{ messageId: 'first', data: { name: 'c' } }],
    },
    {
      code: "import * as leash from 'leashjs'; export declare function load(id: string, ctx: leash.Context): Promise<void>;",
      errors: [{ messageId: 'first' }],
    },
    {
      code: "import type { Context } from 'leashjs'; interface Store { get(key: string, ctx: Context): Promise<string> }",
      errors: [{ messageId: 'first' }],
    },
    {
      code: "import type { Context } from 'leashjs'; export async function load(c: Context, id: string): Promise<string> { return get(c, id); }",
      errors: [
        {
          messageId: 'name',
          data: { name: 'c', expected: "'ctx' or 'parent'" },
          suggestions: [
            {
              messageId: 'rename',
              output:
                "import type { Context } from 'leashjs'; export async function load(ctx: Context, id: string): Promise<string> { return get(ctx, id); }",
            },
          ],
        },
      ],
    },
    // The name is taken: no rename offered.
    {
      code: "import type { Context } from 'leashjs'; export function load(c: Context): void { const ctx = 1; use(c, ctx); }",
      errors: [{ messageId: 'name', suggestions: [] }],
    },
    {
      code: "import type { Context } from 'leashjs'; export function load(c: Context): void {}",
      options: [{ names: ['ctx'] }],
      errors: [{ messageId: 'name', data: { name: 'c', expected: "'ctx'" }, suggestions: 1 }],
    },
  ],
});

const typedHead = "import type { Context, KoaContext } from './context.js';\ntype Ctx = Context;\n";

typedTester.run('context-first (type-aware)', contextFirst, {
  valid: [
    {
      code: `${typedHead}export async function load(ctx: Ctx, id: string): Promise<void> {}`,
      filename: typedFile,
    },
    // Named ctx but typed as Koa's context: the type decides, not the name.
    {
      code: `${typedHead}export async function mw(next: () => Promise<void>, ctx: KoaContext): Promise<void> {}`,
      filename: typedFile,
    },
  ],
  invalid: [
    {
      // Through an alias, only the type checker sees a Context.
      code: `${typedHead}export async function load(id: string, reqContext: Ctx): Promise<void> {}`,
      filename: typedFile,
      errors: [{ messageId: 'first', data: { name: 'reqContext' } }],
    },
    {
      code: `${typedHead}export function derive(base: Ctx): Ctx { return base; }`,
      filename: typedFile,
      errors: [{ messageId: 'name', data: { name: 'base', expected: "'ctx' or 'parent'" }, suggestions: 1 }],
    },
  ],
});
