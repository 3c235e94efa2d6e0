// The shipped declarations of leashjs/http compile in a stranger's strict project (skipLibCheck:
// false, module nodenext) that has none of express, fastify, koa or their @types installed; and, in a
// project that has them, the adapters plug in and Express's req.ctx is typed as possibly undefined.
// Uses the packed tarball (`npm pack`, so run `npm run build` first) unpacked into a scratch project
// in the OS temp folder; runs the repository's own tsc.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

const repo = new URL('../../', import.meta.url).pathname;
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
let scratch = '';
let tarball = '';

before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'leash-types-'));
  // --ignore-scripts: pack the dist that `npm run build` made, without rebuilding it here.
  execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', scratch], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const name = readdirSync(scratch).find((f) => f.endsWith('.tgz'));
  assert.ok(name, 'npm pack made a tarball');
  tarball = join(scratch, name);
});

after(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** project makes a scratch project with the tarball installed and the given extra packages linked. */
function project(dir: string, links: string[], files: Record<string, string>, skipLibCheck = false): string {
  const root = join(scratch, dir);
  const pkg = join(root, 'node_modules', 'leashjs');
  mkdirSync(pkg, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', pkg, '--strip-components=1']);
  mkdirSync(join(root, 'node_modules', '@types'), { recursive: true });
  for (const l of ['@types/node', ...links]) {
    symlinkSync(join(repo, 'node_modules', l), join(root, 'node_modules', l));
  }
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: dir, type: 'module', private: true }));
  writeFileSync(
    join(root, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        skipLibCheck,
        noEmit: true,
        types: ['node'],
      },
      include: ['*.ts'],
    }),
  );
  for (const [name, text] of Object.entries(files)) writeFileSync(join(root, name), text);
  return root;
}

function compile(root: string): string {
  try {
    execFileSync(process.execPath, [tsc, '-p', root], { stdio: ['ignore', 'pipe', 'pipe'] });
    return '';
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer };
    return `${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}` || String(err);
  }
}

test('leashjs/http type-checks with skipLibCheck: false and no framework or framework types installed', () => {
  const root = project(
    'bare',
    [],
    {
      'main.ts': `import http from 'node:http';
import { background } from 'leashjs';
import { contextOf, expressContext, fastifyContext, fetch, koaContext, serve, withContext } from 'leashjs/http';
import type { HandlerErrorEvent, RequestEndEvent, ShutdownReport } from 'leashjs/http';

const server = http.createServer(
  withContext(background(), async (req, res) => {
    const r = await fetch(req.ctx, 'http://127.0.0.1:1/');
    res.end(await r.text());
  }, { timeoutMs: 1000, onError: (err, req, res) => { res.statusCode = 500; res.end(String(err)); } }),
);
const done: Promise<ShutdownReport> = serve(background(), server, { drainMs: 10 });
const mw = expressContext(background(), null);
const plugin = fastifyContext(background());
const koa = koaContext(background(), { maxTimeoutMs: 5 });
const ev = null as unknown as HandlerErrorEvent | RequestEndEvent;
void [done, mw, plugin, koa, ev, contextOf];
`,
    },
    false,
  );
  assert.equal(compile(root), '');
});

// skipLibCheck here only because @types/koa does not compile against the content-disposition that
// ships its own types; leash's declarations were checked strictly by the test above.
test('with express, fastify and koa installed: the adapters plug in and req.ctx is Context | undefined', () => {
  const root = project(
    'frameworks',
    [
      '@types/express',
      '@types/express-serve-static-core',
      '@types/koa',
      '@types/koa-compose',
      '@types/qs',
      '@types/range-parser',
      '@types/serve-static',
      '@types/send',
      '@types/mime',
      '@types/http-errors',
      '@types/body-parser',
      '@types/connect',
      '@types/accepts',
      '@types/content-disposition',
      '@types/cookies',
      '@types/keygrip',
      '@types/http-assert',
      'fastify',
      'express',
      'koa',
    ]
      .filter((p) => {
        try {
          readdirSync(join(repo, 'node_modules', p));
          return true;
        } catch {
          return false;
        }
      })
      .map((p) => p),
    {
      'main.ts': `import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import type { Context } from 'leashjs';
import { background } from 'leashjs';
import { contextOf, expressContext, fastifyContext, koaContext } from 'leashjs/http';

const app = express();
app.use(expressContext(background(), { timeoutMs: 1000 }));
app.get('/', (req, res) => {
  // @ts-expect-error req.ctx may be undefined (a route mounted before expressContext has none)
  const bad: Context = req.ctx;
  const maybe: Context | undefined = req.ctx;
  const ctx: Context = contextOf(req);
  res.json({ ok: ctx === maybe, bad });
});

const f = Fastify();
await f.register(fastifyContext(background()));
f.get('/', async (request) => contextOf(request).deadline ?? null);

const k = new Koa();
k.use(koaContext(background()));
k.use(async (kctx) => {
  const ctx: Context = contextOf(kctx);
  kctx.body = String(ctx.deadline);
});
`,
    },
    true,
  );
  assert.equal(compile(root), '');
});
