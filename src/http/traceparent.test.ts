import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { childTraceparent, parseTraceparent } from './traceparent.js';

const valid = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

test('parseTraceparent reads a valid header', () => {
  assert.deepEqual(parseTraceparent(valid), {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    parentId: '00f067aa0ba902b7',
    flags: '01',
  });
});

test('parseTraceparent rejects what the W3C spec rejects', () => {
  const bad = [
    undefined,
    '',
    valid.toUpperCase(),
    valid.slice(0, -1),
    `${valid}-extra`, // version 00 has exactly four fields
    `ff${valid.slice(2)}`,
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g',
    [valid, valid],
  ];
  for (const b of bad) assert.equal(parseTraceparent(b as string), undefined, JSON.stringify(b));
});

test('parseTraceparent accepts later versions with extra fields (forward compatibility)', () => {
  assert.equal(parseTraceparent(`01${valid.slice(2)}-future`)?.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
});

test('childTraceparent keeps trace and flags, makes a new valid span, and parses back', () => {
  const hex = (n: number) =>
    fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
  fc.assert(
    fc.property(hex(32), hex(16), hex(2), (traceId, parentId, flags) => {
      const parsed = parseTraceparent(`00-${traceId}-${parentId}-${flags}`);
      if (/^0+$/.test(traceId) || /^0+$/.test(parentId)) return parsed === undefined;
      assert.ok(parsed);
      const child = parseTraceparent(childTraceparent(parsed));
      assert.ok(child);
      assert.equal(child.traceId, traceId);
      assert.equal(child.flags, flags);
      return true;
    }),
  );
});
