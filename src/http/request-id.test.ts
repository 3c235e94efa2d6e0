import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { acceptRequestId, newRequestId } from './request-id.js';

test('acceptRequestId keeps a well-formed id', () => {
  for (const id of ['a', 'order-42', 'A.b_C-9', 'x'.repeat(128)]) assert.equal(acceptRequestId(id), id);
});

test('acceptRequestId replaces anything else with a new UUID-shaped id', () => {
  for (const bad of [undefined, '', 'x'.repeat(129), 'has space', 'new\nline', 'é', 'a,b', ['a', 'b']]) {
    assert.match(acceptRequestId(bad), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  }
});

test('acceptRequestId never returns something unsafe for a header or a log line', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (s) => /^[A-Za-z0-9._-]{1,128}$/.test(acceptRequestId(s))),
  );
});

test('newRequestId gives distinct UUID-shaped ids (version 4 nibble, RFC 4122 variant)', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 100_000; i++) {
    const id = newRequestId();
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    seen.add(id);
  }
  assert.equal(seen.size, 100_000);
});

test('newRequestId prefixes differ between processes', async () => {
  const { execFileSync } = await import('node:child_process');
  const url = new URL('./request-id.ts', import.meta.url).href;
  const script = `import(${JSON.stringify(url)}).then((m) => console.log(m.newRequestId()))`;
  const run = () =>
    execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script])
      .toString()
      .trim();
  const [a, b] = [run(), run()];
  assert.notEqual(a.slice(0, 24), b.slice(0, 24));
});

test('newRequestId counts on across its low 24 bits (the carry into the high part)', () => {
  const counterOf = (id: string) => Number.parseInt(id.replaceAll('-', '').slice(20), 16);
  const first = newRequestId();
  const start = counterOf(first);
  const untilCarry = 0x1000000 - (start % 0x1000000);
  let id = first;
  for (let i = 0; i < untilCarry + 2; i++) {
    const next = newRequestId();
    if (i >= untilCarry - 2) assert.equal(counterOf(next), counterOf(id) + 1, `${id} -> ${next}`);
    id = next;
  }
  assert.equal(id.slice(0, 24), first.slice(0, 24), 'same process prefix');
});
