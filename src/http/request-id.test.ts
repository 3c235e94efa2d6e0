import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { acceptRequestId } from './request-id.js';

test('acceptRequestId keeps a well-formed id', () => {
  for (const id of ['a', 'order-42', 'A.b_C-9', 'x'.repeat(128)]) assert.equal(acceptRequestId(id), id);
});

test('acceptRequestId replaces anything else with a UUID', () => {
  for (const bad of [undefined, '', 'x'.repeat(129), 'has space', 'new\nline', 'é', 'a,b', ['a', 'b']]) {
    assert.match(acceptRequestId(bad), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  }
});

test('acceptRequestId never returns something unsafe for a header or a log line', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (s) => /^[A-Za-z0-9._-]{1,128}$/.test(acceptRequestId(s))),
  );
});
