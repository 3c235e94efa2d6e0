import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { cancelRequestCode, cancelRequestPacket, sendCancelRequest } from './cancel-request.js';

test('the CancelRequest packet is 16 big-endian bytes: length, code 80877102, process id, secret key', () => {
  assert.equal(cancelRequestCode, (1234 << 16) | 5678);
  const p = cancelRequestPacket(4242, 0x01020304);
  assert.deepEqual([...p], [0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0x10, 0x92, 0x01, 0x02, 0x03, 0x04]);
});

test('a negative secret key (the server sends a signed int32) is encoded as two’s complement', () => {
  const p = cancelRequestPacket(1, -2);
  assert.deepEqual([...p.subarray(12)], [0xff, 0xff, 0xff, 0xfe]);
  assert.equal(p.readInt32BE(12), -2);
});

test('sendCancelRequest writes exactly that packet on a fresh connection and resolves when the server closes it', async () => {
  const received: Buffer[] = [];
  const server = net.createServer((s) => {
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('end', () => {
      received.push(Buffer.concat(chunks));
      s.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  try {
    await sendCancelRequest({ host: '127.0.0.1', port, processID: 7, secretKey: 99 }, 2000);
    assert.equal(received.length, 1);
    assert.deepEqual(received[0], cancelRequestPacket(7, 99));
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('sendCancelRequest does nothing for a client that never connected, and rejects bad input with LEASH_ERR_INVALID_ARG', async () => {
  await sendCancelRequest({ host: '127.0.0.1', port: 1, processID: null, secretKey: null });
  const invalid = { name: 'TypeError', code: 'LEASH_ERR_INVALID_ARG' };
  assert.throws(() => sendCancelRequest(null as never), invalid);
  assert.throws(() => sendCancelRequest({ host: 'h', port: 0, processID: 1, secretKey: 1 }), invalid);
  assert.throws(
    () => sendCancelRequest({ host: 'h', port: 5432, processID: 2 ** 31, secretKey: 1 }),
    invalid,
  );
  assert.throws(
    () => sendCancelRequest({ host: 'h', port: 5432, processID: 1, secretKey: 1 }, -1),
    /sendCancelRequest\(target, timeoutMs\): timeoutMs/,
  );
});
