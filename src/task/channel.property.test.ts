// Property tests: random interleavings of send, receive, try-ops, select, close and cancellation
// never lose or duplicate a value. Each sent value is unique; at the end every completed send's
// value has been received exactly once, every failed send's value never, and no operation is
// left pending.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { background, type CancelFunc, withCancel } from '../context/index.js';
import { Channel, queueSizes } from './channel.js';
import { select } from './select.js';

type Op =
  | { kind: 'send' }
  | { kind: 'recv' }
  | { kind: 'trySend' }
  | { kind: 'tryRecv' }
  | { kind: 'select' }
  | { kind: 'cancel'; which: number }
  | { kind: 'close' }
  | { kind: 'tick' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'send' } as const), weight: 4 },
  { arbitrary: fc.constant({ kind: 'recv' } as const), weight: 4 },
  { arbitrary: fc.constant({ kind: 'trySend' } as const), weight: 1 },
  { arbitrary: fc.constant({ kind: 'tryRecv' } as const), weight: 1 },
  { arbitrary: fc.constant({ kind: 'select' } as const), weight: 2 },
  { arbitrary: fc.nat(40).map((which) => ({ kind: 'cancel', which }) as const), weight: 3 },
  { arbitrary: fc.constant({ kind: 'close' } as const), weight: 1 },
  { arbitrary: fc.constant({ kind: 'tick' } as const), weight: 3 },
);

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

test('random interleavings never lose or duplicate a value', async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(0, 1, 3), fc.array(opArb, { maxLength: 60 }), async (capacity, ops) => {
      const ch = new Channel<number>(capacity);
      const other = new Channel<number>(); // a select's second channel, never ready
      const cancels: CancelFunc[] = [];
      const pending: Promise<unknown>[] = [];
      const received: number[] = [];
      const sendOutcome = new Map<number, 'ok' | 'failed' | 'pending'>();
      let next = 0;
      const ctx = () => {
        const [c, cancel] = withCancel(background());
        cancels.push(cancel);
        return c;
      };
      const trackSend = (v: number, p: Promise<unknown>) => {
        sendOutcome.set(v, 'pending');
        pending.push(
          p.then(
            () => sendOutcome.set(v, 'ok'),
            () => sendOutcome.set(v, 'failed'),
          ),
        );
      };
      for (const op of ops) {
        switch (op.kind) {
          case 'send': {
            const v = next++;
            trackSend(v, ch.send(ctx(), v));
            break;
          }
          case 'recv':
            pending.push(
              ch.recv(ctx()).then(
                (r) => {
                  if (r.ok) received.push(r.value!);
                },
                () => {},
              ),
            );
            break;
          case 'trySend': {
            const v = next++;
            try {
              sendOutcome.set(v, ch.trySend(v) ? 'ok' : 'failed');
            } catch {
              sendOutcome.set(v, 'failed');
            }
            break;
          }
          case 'tryRecv': {
            const r = ch.tryRecv();
            if (r?.ok) received.push(r.value!);
            break;
          }
          case 'select': {
            const v = next++;
            sendOutcome.set(v, 'pending');
            pending.push(
              select(ctx(), [{ send: ch, value: v }, { recv: ch }, { recv: other }]).then(
                (r) => {
                  sendOutcome.set(v, r.index === 0 ? 'ok' : 'failed');
                  if (r.index === 1 && r.ok) received.push(r.value!);
                },
                () => sendOutcome.set(v, 'failed'),
              ),
            );
            break;
          }
          case 'cancel':
            cancels[op.which % Math.max(1, cancels.length)]?.();
            break;
          case 'close':
            if (ch.closed) assert.throws(() => ch.close());
            else ch.close();
            break;
          case 'tick':
            await tick();
            break;
        }
      }
      // Wind down: end every context, close, drain what is buffered.
      for (const cancel of cancels) cancel();
      if (!ch.closed) ch.close();
      await Promise.all(pending);
      for (let r = ch.tryRecv(); r?.ok; r = ch.tryRecv()) received.push(r.value!);

      const counts = new Map<number, number>();
      for (const v of received) counts.set(v, (counts.get(v) ?? 0) + 1);
      for (const [v, n] of counts) assert.equal(n, 1, `value ${v} received ${n} times`);
      for (const [v, outcome] of sendOutcome) {
        assert.notEqual(outcome, 'pending', `send of ${v} never settled`);
        assert.equal(counts.get(v) ?? 0, outcome === 'ok' ? 1 : 0, `value ${v}: send ${outcome}`);
      }
      assert.deepEqual(queueSizes(ch), [0, 0]);
      assert.deepEqual(queueSizes(other), [0, 0]);
      assert.equal(ch.length, 0);
    }),
    { numRuns: 300 },
  );
});

test('buffered FIFO: values sent by one producer arrive in order', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 8 }),
      fc.array(fc.boolean(), { maxLength: 80 }),
      async (capacity, steps) => {
        const ch = new Channel<number>(capacity);
        const bg = background();
        let next = 0;
        let completed = 0;
        const got: number[] = [];
        const sends: Promise<void>[] = [];
        // A single producer sends in order, without waiting; receives interleave randomly.
        for (const isSend of steps) {
          if (isSend)
            sends.push(
              ch.send(bg, next++).then(() => {
                completed++;
              }),
            );
          else
            void ch.recv(bg).then((r) => {
              if (r.ok) got.push(r.value!);
            });
          await Promise.resolve();
        }
        ch.close();
        await Promise.allSettled(sends);
        await tick();
        for (let r = ch.tryRecv(); r?.ok; r = ch.tryRecv()) got.push(r.value!);
        assert.deepEqual(
          got,
          [...got].sort((a, b) => a - b),
        );
        assert.equal(got.length, completed, 'every value whose send completed is received once');
      },
    ),
    { numRuns: 200 },
  );
});
