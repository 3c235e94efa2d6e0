// The shipped declarations of leashjs/pg compile in a strict project that has neither `pg` nor
// `@types/pg` installed, with skipLibCheck false: leash describes the Pool and Client it needs with
// its own structural types. Checks the built package (npm run build first): dist/ and package.json
// are copied into a scratch project in the OS temp directory, which only @types/node is added to.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);

const app = `
import { background, withTimeout } from 'leashjs';
import { ConnectionError, connect, PoolClosedError, query, sendCancelRequest, withClient } from 'leashjs/pg';
import type { PgClient, PgPool, PgQueryResult, QueryOptions } from 'leashjs/pg';

declare const pool: PgPool;
declare const client: PgClient;
const [ctx, cancel] = withTimeout(background(), 100);
const opts: QueryOptions = { cancelGraceMs: 1000 };
const r: PgQueryResult<{ id: number }> = await query<{ id: number }>(ctx, pool, 'SELECT 1 AS id', [], opts);
const id: number = r.rows[0]!.id;
const untyped = await query(ctx, client, { text: 'SELECT $1::int AS n', values: [id] });
const n: number = untyped.rows[0].n;
await withClient(ctx, pool, async (c) => query(ctx, c, 'SELECT $1::int', [n]));
const c = await connect(ctx, pool);
c.release();
await sendCancelRequest({ host: '127.0.0.1', port: 5432, processID: 1, secretKey: 2 });
const e: unknown = new Error();
if (e instanceof ConnectionError) console.log(e.code, e.cause);
if (e instanceof PoolClosedError) console.log(e.code);
cancel();
`;

test('leashjs/pg declarations compile without pg or @types/pg (strict, skipLibCheck false)', async (t) => {
  if (!existsSync(join(root, 'dist/pg/index.d.ts'))) return t.skip('run npm run build first');
  const dir = mkdtempSync(join(tmpdir(), 'leash-pg-types-'));
  try {
    const pkg = join(dir, 'node_modules/leashjs');
    cpSync(join(root, 'dist'), join(pkg, 'dist'), { recursive: true });
    cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
    const typesNode = dirname(require.resolve('@types/node/package.json'));
    cpSync(typesNode, join(dir, 'node_modules/@types/node'), { recursive: true, dereference: true });
    const undici = dirname(require.resolve('undici-types/package.json', { paths: [typesNode] }));
    cpSync(undici, join(dir, 'node_modules/undici-types'), { recursive: true, dereference: true });
    writeFileSync(join(dir, 'package.json'), '{ "name": "scratch", "private": true, "type": "module" }\n');
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
        },
        include: ['app.ts'],
      }),
    );
    writeFileSync(join(dir, 'app.ts'), app);
    assert.ok(!existsSync(join(dir, 'node_modules/pg')) && !existsSync(join(dir, 'node_modules/@types/pg')));
    const tsc = require.resolve('typescript/bin/tsc');
    const result = await promisify(execFile)(process.execPath, [tsc, '-p', dir], { timeout: 120_000 }).then(
      () => '',
      (err: { stdout?: string }) => err.stdout ?? String(err),
    );
    assert.equal(result, '', `tsc reported:\n${result}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
