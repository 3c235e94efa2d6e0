// leashjs/queue on the memory backend: backpressure, per-job contexts (deadline, timeout, remote
// cancel), retries and dead letters, drain, and a fast-check model that no interleaving of enqueue,
// cancel, drain and failure loses or duplicates a job.
import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  background,
  type Context,
  cause,
  isCanceled,
  isDeadlineExceeded,
  sleep,
  withCancel,
  withTimeout,
} from '../context/index.js';
import { snapshot, verifyNone } from '../leak/index.js';
import { constantBackoff } from '../resilience/index.js';
import {
  createQueue,
  DrainDeadlineError,
  JobCancelledError,
  JobDeadlineError,
  memoryBackend,
  type Queue,
  QueueClosedError,
  type QueueFinishEvent,
  redisStreams,
} from './index.js';
import { BAD_JOBS } from './test-support/bad-jobs.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** recordRuns starts a worker that only appends each job it runs to `ran`. */
function recordRuns<J>(q: Queue<J>, ran: J[], concurrency: number) {
  return q.work(
    background(),
    async (_ctx, job) => {
      ran.push(job);
    },
    { concurrency },
  );
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((res) => {
    open = res;
  });
  return { promise, open };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

test('a worker runs every job once, never more than `concurrency` at a time', async () => {
  const base = snapshot();
  const q = createQueue<number>({ name: 'basic' });
  let live = 0;
  let peak = 0;
  const seen: number[] = [];
  const w = q.work(
    background(),
    async (_ctx, n) => {
      live++;
      peak = Math.max(peak, live);
      await sleep(background(), 1);
      seen.push(n);
      live--;
    },
    { concurrency: 3 },
  );
  for (let i = 0; i < 30; i++) await q.enqueue(background(), i);
  await until(() => seen.length === 30);
  assert.equal(peak, 3);
  assert.deepEqual(
    [...seen].sort((a, b) => a - b),
    Array.from({ length: 30 }, (_, i) => i),
  );
  const report = await w.drain(100);
  assert.deepEqual(report.handedBack, []);
  assert.equal(w.stats.completed, 30);
  await verifyNone({ baseline: base });
});

test('enqueue waits for room (backpressure), FIFO, and gives up with ctx.err when its context ends', async () => {
  const q = createQueue<string>({ name: 'bp', backend: memoryBackend({ capacity: 2 }) });
  await q.enqueue(background(), 'a');
  await q.enqueue(background(), 'b');
  const [ctx, cancel] = withTimeout(background(), 30);
  await assert.rejects(q.enqueue(ctx, 'c'), (e) => isDeadlineExceeded(e));
  cancel();
  assert.equal(await q.depth(), 2);
  const order: string[] = [];
  const p1 = q.enqueue(background(), 'd').then(() => order.push('d'));
  const p2 = q.enqueue(background(), 'e').then(() => order.push('e'));
  await tick();
  assert.deepEqual(order, []);
  const ran: string[] = [];
  const w = recordRuns(q, ran, 1);
  await Promise.all([p1, p2]);
  await until(() => ran.length === 4);
  assert.deepEqual(order, ['d', 'e']);
  assert.deepEqual(ran, ['a', 'b', 'd', 'e']);
  await w.drain(100);
  await q.close();
});

test('an already-done context rejects at once, even with room', async () => {
  const q = createQueue<number>({ name: 'done-ctx' });
  const [ctx, cancel] = withCancel(background());
  cancel();
  await assert.rejects(q.enqueue(ctx, 1), (e) => isCanceled(e));
  assert.equal(await q.depth(), 0);
});

test('enqueue with a known id adds nothing and returns that id', async () => {
  const q = createQueue<number>({ name: 'idem' });
  assert.equal(await q.enqueue(background(), 1, { id: 'x' }), 'x');
  assert.equal(await q.enqueue(background(), 2, { id: 'x' }), 'x');
  assert.equal(await q.depth(), 1);
  const got: number[] = [];
  const w = q.work(background(), async (_c, j) => void got.push(j), { concurrency: 1 });
  await until(() => got.length === 1);
  await w.drain(50);
  assert.deepEqual(got, [1]);
});

test('cancel: a queued job never starts; a running one ends with JobCancelledError as cause and is not retried', async () => {
  const base = snapshot();
  const q = createQueue<string>({ name: 'cancel' });
  const started: string[] = [];
  let seenCause: unknown;
  const running = gate();
  const w = q.work(
    background(),
    async (ctx, j) => {
      started.push(j);
      if (j === 'long') {
        running.open();
        await sleep(ctx, 60_000).catch((e) => {
          seenCause = cause(ctx);
          throw e;
        });
      }
    },
    { concurrency: 1, retries: 5, backoff: constantBackoff(1) },
  );
  await q.enqueue(background(), 'long', { id: 'long' });
  await running.promise;
  await q.enqueue(background(), 'queued', { id: 'queued' });
  assert.equal(await q.cancel('queued', 'no longer needed'), true);
  const t0 = Date.now();
  assert.equal(await q.cancel('long', 'user asked'), true);
  await until(() => w.stats.cancelled === 1);
  assert.ok(Date.now() - t0 < 100);
  assert.ok(seenCause instanceof JobCancelledError);
  assert.equal((seenCause as JobCancelledError).reason, 'user asked');
  assert.equal((seenCause as JobCancelledError).code, 'LEASH_ERR_JOB_CANCELLED');
  await sleep(background(), 20);
  assert.deepEqual(started, ['long']);
  assert.equal(w.stats.retried, 0);
  assert.equal(await q.cancel('long'), false, 'a finished job is not found');
  assert.equal(await q.cancel('never'), false);
  await w.drain(50);
  await verifyNone({ baseline: base });
});

test("the job's deadline travels with it: ctx.deadline is the enqueue deadline; a job that cannot start in time is dead-lettered unrun", async () => {
  const q = createQueue<string>({ name: 'deadline' });
  const before = Date.now();
  await q.enqueue(background(), 'expired', { deadlineMs: 20 });
  await q.enqueue(background(), 'ok', { deadlineMs: 5_000 });
  await sleep(background(), 40);
  const deadlines: [string, number | undefined][] = [];
  const w = q.work(background(), async (ctx, j) => void deadlines.push([j, ctx.deadline]), {
    concurrency: 1,
    retries: 3,
  });
  await until(() => w.stats.completed + w.stats.deadLettered === 2);
  assert.deepEqual(
    deadlines.map(([j]) => j),
    ['ok'],
  );
  const d = deadlines[0]?.[1] as number;
  assert.ok(d >= before + 5_000 && d <= Date.now() + 5_000, `deadline ${d} is the enqueue deadline`);
  const dead = await q.deadLetters();
  assert.equal(dead.length, 1);
  assert.equal(dead[0]?.data, 'expired');
  assert.ok(dead[0]?.error instanceof JobDeadlineError);
  await w.drain(50);
});

test('timeoutMs ends each attempt; a failed attempt retries with the backoff, then is dead-lettered with the last error', async () => {
  const q = createQueue<string>({ name: 'retry' });
  const attempts: number[] = [];
  const errors: unknown[] = [];
  const w = q.work(
    background(),
    async (ctx) => {
      attempts.push(Date.now());
      await sleep(ctx, 10_000).catch((e) => {
        errors.push(e);
        throw e;
      });
    },
    { concurrency: 1, retries: 2, backoff: constantBackoff(30), timeoutMs: 20 },
  );
  await q.enqueue(background(), 'slow', { id: 'slow' });
  await until(() => w.stats.deadLettered === 1, 3000);
  assert.equal(attempts.length, 3);
  for (let i = 1; i < attempts.length; i++)
    assert.ok((attempts[i] as number) - (attempts[i - 1] as number) >= 45);
  assert.ok(errors.every((e) => isDeadlineExceeded(e)));
  const [dead] = await q.deadLetters();
  assert.equal(dead?.id, 'slow');
  assert.equal(dead?.attempts, 3);
  assert.ok(isDeadlineExceeded(dead?.error));
  assert.equal(w.stats.retried, 2);
  await w.drain(50);
});

test('a retry is not scheduled past the job deadline: it is dead-lettered with the last error', async () => {
  const q = createQueue<string>({ name: 'retry-deadline' });
  const w = q.work(
    background(),
    async () => {
      throw new Error('flaky');
    },
    { concurrency: 1, retries: 10, backoff: constantBackoff(500) },
  );
  await q.enqueue(background(), 'x', { deadlineMs: 200 });
  await until(() => w.stats.deadLettered === 1);
  assert.equal(w.stats.retried, 0);
  const [dead] = await q.deadLetters();
  assert.equal((dead?.error as Error | undefined)?.message, 'flaky');
  await w.drain(50);
});

test('delayed jobs do not start before their delay', async () => {
  const q = createQueue<string>({ name: 'delay' });
  const startedAt: number[] = [];
  const w = q.work(background(), async () => void startedAt.push(Date.now()), { concurrency: 1 });
  const t0 = Date.now();
  await q.enqueue(background(), 'later', { delayMs: 80 });
  await until(() => startedAt.length === 1);
  assert.ok((startedAt[0] as number) - t0 >= 78);
  await w.drain(50);
});

test('drain: running jobs finish within the deadline; the rest are cancelled and handed back, and another worker runs them', async () => {
  const base = snapshot();
  const q = createQueue<string>({ name: 'drain' });
  const runs: string[] = [];
  const causes: unknown[] = [];
  const handler = async (ctx: Context, j: string): Promise<void> => {
    runs.push(j);
    await sleep(ctx, j.startsWith('fast') ? 10 : 5_000).catch((e) => {
      causes.push(cause(ctx));
      throw e;
    });
  };
  const w1 = q.work(background(), handler, { concurrency: 4 });
  for (const j of ['fast1', 'fast2', 'slow1', 'slow2', 'waiting'])
    await q.enqueue(background(), j, { id: j });
  await until(() => runs.length === 4);
  const report = await w1.drain(100);
  assert.deepEqual([...report.completed].sort(), ['fast1', 'fast2']);
  assert.deepEqual([...report.cancelled].sort(), ['slow1', 'slow2']);
  assert.deepEqual([...report.handedBack].sort(), ['slow1', 'slow2']);
  assert.deepEqual(report.ignoredCancel, []);
  assert.ok(causes.every((c) => c instanceof DrainDeadlineError));
  assert.equal(await q.depth(), 3, 'the two handed back and the one never started wait for the next worker');
  assert.equal(w1.stats.failed, 0);
  const done: string[] = [];
  const w2 = q.work(background(), async (_c, j) => void done.push(j), { concurrency: 4 });
  await until(() => done.length === 3);
  assert.deepEqual([...done].sort(), ['slow1', 'slow2', 'waiting']);
  await w2.drain(50);
  await verifyNone({ baseline: base });
});

test('drain hands back a handler that ignores its context after graceMs, and discards its late result', async () => {
  const q = createQueue<string>({ name: 'ignore' });
  const late = gate();
  let finished = false;
  const w = q.work(
    background(),
    async () => {
      await late.promise;
      finished = true;
    },
    { concurrency: 1 },
  );
  await q.enqueue(background(), 'stubborn', { id: 'stubborn' });
  await until(() => w.running === 1);
  const t0 = Date.now();
  const report = await w.drain(20, { graceMs: 30 });
  assert.ok(Date.now() - t0 < 1000);
  assert.deepEqual(report.ignoredCancel, ['stubborn']);
  assert.deepEqual(report.handedBack, ['stubborn']);
  late.open();
  await tick();
  assert.ok(finished);
  assert.equal(w.stats.completed, 0, 'the late success is not recorded');
  assert.equal(await q.depth(), 1);
});

test("the worker's own context ending hands running jobs back (not a failure) and resolves done", async () => {
  const q = createQueue<string>({ name: 'worker-ctx' });
  const [ctx, cancel] = withCancel(background());
  const w = q.work(ctx, (c) => sleep(c, 10_000), { concurrency: 2, retries: 3 });
  await q.enqueue(background(), 'a');
  await until(() => w.running === 1);
  cancel();
  await w.done;
  assert.equal(w.stats.handedBack, 1);
  assert.equal(w.stats.failed, 0);
  assert.equal(await q.depth(), 1);
});

test('events: start, finish, retry, dead-letter, cancel and depth, as frozen payloads', async () => {
  const got: Record<string, object[]> = {};
  const names = ['enqueue', 'start', 'finish', 'retry', 'dead-letter', 'cancel', 'depth'];
  const subs = names.map((n) => {
    const fn = (m: unknown): void => {
      if ((m as { queue: string }).queue === 'events') (got[n] ??= []).push(m as object);
    };
    diagnostics_channel.subscribe(`leash:queue:${n}`, fn);
    return () => diagnostics_channel.unsubscribe(`leash:queue:${n}`, fn);
  });
  try {
    const q = createQueue<string>({ name: 'events' });
    const w = q.work(
      background(),
      async (ctx, j) => {
        if (j === 'bad') throw new Error('bad');
        if (j === 'hang') await sleep(ctx, 10_000);
      },
      { concurrency: 2, retries: 1, backoff: constantBackoff(1) },
    );
    await q.enqueue(background(), 'ok', { id: 'ok' });
    await q.enqueue(background(), 'bad', { id: 'bad' });
    await q.enqueue(background(), 'hang', { id: 'hang' });
    await until(() => w.running === 1 && w.stats.deadLettered === 1);
    await q.cancel('hang');
    await until(() => w.stats.cancelled === 1);
    await w.drain(50);
    for (const n of names) assert.ok((got[n]?.length ?? 0) > 0, `${n} published`);
    for (const list of Object.values(got)) for (const m of list) assert.ok(Object.isFrozen(m));
    const outcomes = (got.finish as QueueFinishEvent[]).map((f) => `${f.id}:${f.outcome}`).sort();
    assert.deepEqual(outcomes, ['bad:failed', 'bad:failed', 'hang:cancelled', 'ok:completed']);
  } finally {
    for (const u of subs) u();
  }
});

test('a handler that throws synchronously or returns a non-promise is handled', async () => {
  const q = createQueue<string>({ name: 'sync' });
  const w = q.work(
    background(),
    ((_c: Context, j: string) => {
      if (j === 'throw') throw new Error('sync');
      return undefined;
    }) as unknown as (c: Context, j: string) => Promise<void>,
    { concurrency: 1 },
  );
  await q.enqueue(background(), 'throw');
  await q.enqueue(background(), 'plain');
  await until(() => w.stats.completed === 1 && w.stats.deadLettered === 1);
  await w.drain(10);
});

test('bad input gets LEASH_ERR_INVALID_ARG with a message that says what to do', async () => {
  const code = { code: 'LEASH_ERR_INVALID_ARG' };
  assert.throws(() => createQueue({ name: '' }), code);
  assert.throws(() => createQueue({ name: 'a{b}' }), /hash|\{ \}/);
  assert.throws(() => createQueue({ name: 'q', backnd: 1 } as never), /did you mean "backend"/);
  assert.throws(
    () => createQueue({ name: 'q', backend: {} as never }),
    /memoryBackend\(\) or redisStreams\(\)/,
  );
  assert.throws(() => memoryBackend({ capacity: 0 }), code);
  const q = createQueue<number>({ name: 'bad' });
  await assert.rejects(q.enqueue(background(), 1, { deadlineMs: -1 }), code);
  await assert.rejects(q.enqueue(background(), 1, { delay: 5 } as never), /did you mean "delayMs"/);
  await assert.rejects(q.enqueue(background(), 1, { delayMs: 100, deadlineMs: 50 }), /could never run/);
  await assert.rejects(q.enqueue(background(), 1, { id: '' }), code);
  await assert.rejects(q.enqueue({} as never, 1), code);
  assert.throws(() => q.work(background(), async () => {}, { concurrency: 0 }), code);
  assert.throws(
    () => q.work(background(), async () => {}, { concurency: 2 } as never),
    /did you mean "concurrency"/,
  );
  assert.throws(
    () => q.work(background(), async () => {}, { concurrency: 1, backoff: 5 } as never),
    /constantBackoff/,
  );
  await assert.rejects(q.cancel(''), code);
  await q.close();
  await assert.rejects(q.enqueue(background(), 1), QueueClosedError);
  assert.throws(() => q.work(background(), async () => {}, { concurrency: 1 }), QueueClosedError);
});

test('drain checks its arguments; `await using` drains the worker at the end of its block', async () => {
  const q = createQueue<number>({ name: 'dispose' });
  const seen: number[] = [];
  {
    await using w = q.work(background(), async (_c, n) => void seen.push(n), { concurrency: 1 });
    await assert.rejects(w.drain(-1), { code: 'LEASH_ERR_INVALID_ARG' });
    await assert.rejects(w.drain(10, { grace: 5 } as never), /did you mean "graceMs"/);
    await q.enqueue(background(), 1);
    await until(() => seen.length === 1);
    assert.equal(w.running, 0);
  }
  // Disposed: the worker has stopped, so a new job waits for the next worker.
  await q.enqueue(background(), 2);
  await sleep(background(), 10);
  assert.deepEqual(seen, [1]);
  assert.equal(await q.depth(), 1);
});

test('job data: what JSON cannot carry is refused on the memory backend as on Redis, and nothing is stored', async () => {
  const q = createQueue<unknown>({ name: 'json-only' });
  for (const [job, message] of BAD_JOBS) {
    await assert.rejects(q.enqueue(background(), job), {
      name: 'TypeError',
      code: 'LEASH_ERR_INVALID_ARG',
      message,
    });
    // Refused with an id too, and before the id is taken: the same id can be used for a good job.
    await assert.rejects(q.enqueue(background(), job, { id: 'x' }), {
      code: 'LEASH_ERR_INVALID_ARG',
      message,
    });
  }
  assert.equal(await q.depth(), 0, 'no refused job was stored');
  // JSON values are accepted, null and falsy ones included, and reach the handler as they were.
  const good: unknown[] = [null, 0, '', false, [], { to: 'a@example.com', n: [1, 2] }];
  for (const job of good) await q.enqueue(background(), job);
  const ran: unknown[] = [];
  const w = recordRuns(q, ran, 1);
  await until(() => ran.length === good.length);
  assert.deepEqual(ran, good);
  assert.equal(await q.enqueue(background(), 'later', { id: 'x' }), 'x');
  await w.drain(100);
  await q.close();
});

test('drain checks its arguments on every call, also once the worker has stopped', async () => {
  const q = createQueue<number>({ name: 'drain-args' });
  const w = q.work(background(), async () => {}, { concurrency: 1 });
  const report = await w.drain(0);
  await w.done;
  const bad: [Promise<unknown>, string][] = [
    [
      w.drain('5' as never),
      'worker.drain(ms, opts): ms must be a finite number of milliseconds >= 0, got the string "5"',
    ],
    [
      w.drain({} as never),
      'worker.drain(ms, opts): ms must be a finite number of milliseconds >= 0, got an object',
    ],
    [
      w.drain(-1),
      'worker.drain(ms, opts): ms must be a finite number of milliseconds >= 0, got the number -1',
    ],
    [
      w.drain(10, { graceMS: 1 } as never),
      'worker.drain(ms, opts): unknown option "graceMS"; did you mean "graceMs"? (known options: graceMs)',
    ],
    [
      w.drain(10, { graceMs: null } as never),
      'worker.drain(ms, opts): graceMs must be a finite number of milliseconds >= 0, got null',
    ],
    [
      w.drain(10, 1000 as never),
      'worker.drain(ms, opts): options must be an object such as { graceMs: ... }, got the number 1000',
    ],
  ];
  for (const [p, message] of bad)
    await assert.rejects(p, { name: 'TypeError', code: 'LEASH_ERR_INVALID_ARG', message });
  // Good arguments after the stop: the same report, as documented.
  assert.equal(await w.drain(10, { graceMs: 5 }), report);
  await q.close();
});

test('null is not "left out": numeric options refuse it as they refuse any non-number', async () => {
  const bad = (message: string) => ({ name: 'TypeError', code: 'LEASH_ERR_INVALID_ARG', message });
  const q = createQueue<number>({ name: 'null-options' });
  const h = async () => {};
  assert.throws(
    () => q.work(background(), h, { concurrency: 1, retries: null } as never),
    bad('queue.work(ctx, handler, opts): retries must be an integer >= 0, got null'),
  );
  assert.throws(
    () => q.work(background(), h, { concurrency: null } as never),
    bad('queue.work(ctx, handler, opts): concurrency must be an integer >= 1, got null'),
  );
  assert.throws(
    () => q.work(background(), h, { concurrency: 1, timeoutMs: null } as never),
    bad('queue.work(ctx, handler, opts): timeoutMs must be a finite number of milliseconds >= 1, got null'),
  );
  await assert.rejects(
    q.enqueue(background(), 1, { delayMs: null } as never),
    bad('queue.enqueue(ctx, job, opts): delayMs must be a finite number of milliseconds >= 0, got null'),
  );
  await assert.rejects(
    q.close(null as never),
    bad('queue.close(drainMs): drainMs must be a finite number of milliseconds >= 0, got null'),
  );
  assert.throws(
    () => memoryBackend({ capacity: null } as never),
    bad('memoryBackend(options): capacity must be an integer >= 1 (Infinity allowed), got null'),
  );
  // redisStreams checks its options before it talks to Redis: a stand-in client is enough here.
  const redis = { evalsha() {}, eval() {}, call() {}, duplicate() {} } as never;
  const where = 'redisStreams(options)';
  for (const [key, rule] of [
    ['capacity', 'an integer >= 0'],
    ['visibilityMs', 'a finite number of milliseconds >= 30'],
    ['blockMs', 'an integer of milliseconds >= 1'],
    ['retainMs', 'an integer of milliseconds >= 1'],
    ['prefetch', 'an integer from 0 to 100'],
  ])
    assert.throws(
      () => redisStreams({ redis, [key as string]: null }),
      bad(`${where}: ${key} must be ${rule}, got null`),
    );
  assert.throws(
    () => redisStreams({ redis, group: null } as never),
    bad(`${where}: group must be a non-empty string, got null`),
  );
  // Left out (or undefined), each option takes its default.
  assert.doesNotThrow(() => memoryBackend({ capacity: undefined }));
  assert.doesNotThrow(() => redisStreams({ redis, capacity: undefined, group: undefined }));
  q.work(background(), h, { concurrency: 1, retries: undefined }).drain(0);
  await q.close();
});

test('close() rejects waiting enqueues and drains live workers', async () => {
  const q = createQueue<number>({ name: 'close', backend: memoryBackend({ capacity: 1 }) });
  await q.enqueue(background(), 1);
  const waiting = q.enqueue(background(), 2);
  await q.close();
  await assert.rejects(waiting, QueueClosedError);
});

// The model: every accepted job ends exactly once as completed, cancelled or dead, or is still
// waiting; none completes twice; no interleaving of enqueue, cancel, drain and failure loses one.
test('fast-check: no interleaving of enqueue, cancel, drain and worker failure loses or duplicates a job', async () => {
  const op = fc.oneof(
    fc.record({ t: fc.constant('enqueue' as const), fail: fc.boolean(), slow: fc.boolean() }),
    fc.record({ t: fc.constant('cancel' as const), pick: fc.nat(50) }),
    fc.record({ t: fc.constant('drain' as const), ms: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ t: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 3 }) }),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(op, { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 1, max: 4 }),
      async (ops, concurrency) => {
        const q = createQueue<{ fail: boolean; slow: boolean }>({
          name: 'model',
          backend: memoryBackend({ capacity: 1000 }),
        });
        const completed = new Map<string, number>();
        const handler = async (
          ctx: Context,
          j: { fail: boolean; slow: boolean },
          id: string,
        ): Promise<void> => {
          if (j.slow) await sleep(ctx, 3);
          if (j.fail) throw new Error('fail');
          completed.set(id, (completed.get(id) ?? 0) + 1);
        };
        const ids: string[] = [];
        const cancelled = new Set<string>();
        let n = 0;
        // The id of each job object, known before any worker can start it.
        const byId = new Map<object, string>();
        const start = () => ({
          w: q.work(background(), (ctx, j) => handler(ctx, j, byId.get(j) as string), {
            concurrency,
            retries: 1,
            backoff: constantBackoff(0),
          }),
        });
        const jobs = new Map<string, { fail: boolean; slow: boolean }>();
        let cur = start();
        const bind = (id: string, j: object) => byId.set(j, id);
        for (const o of ops) {
          if (o.t === 'enqueue') {
            const id = `j${n++}`;
            const j = { fail: o.fail, slow: o.slow };
            jobs.set(id, j);
            bind(id, j);
            ids.push(id);
            await q.enqueue(background(), j, { id });
          } else if (o.t === 'cancel' && ids.length > 0) {
            const id = ids[o.pick % ids.length] as string;
            if (await q.cancel(id)) cancelled.add(id);
          } else if (o.t === 'drain') {
            await cur.w.drain(o.ms, { graceMs: 50 });
            cur = start();
          } else if (o.t === 'wait') await sleep(background(), o.ms);
        }
        // Let everything left finish: every job reaches a fate, or one was lost.
        const fated = async (): Promise<boolean> => {
          const dead = new Set((await q.deadLetters(10_000)).map((d) => d.id));
          return ids.every((id) => completed.has(id) || dead.has(id) || cancelled.has(id));
        };
        const end = Date.now() + 2000;
        while (!(await fated())) {
          if (Date.now() > end) throw new Error('jobs left behind');
          await sleep(background(), 2);
        }
        await cur.w.drain(100);
        assert.equal(await q.depth(), 0);
        const dead = new Set((await q.deadLetters(10_000)).map((d) => d.id));
        for (const id of ids) {
          const c = completed.get(id) ?? 0;
          assert.ok(c <= 1, `${id} completed ${c} times`);
          const fates =
            (c === 1 ? 1 : 0) +
            (dead.has(id) ? 1 : 0) +
            (cancelled.has(id) && c === 0 && !dead.has(id) ? 1 : 0);
          assert.equal(
            fates,
            1,
            `${id} ended exactly once (completed ${c}, dead ${dead.has(id)}, cancelled ${cancelled.has(id)})`,
          );
          if (jobs.get(id)?.fail && !cancelled.has(id))
            assert.ok(dead.has(id), `${id} failed every attempt and is dead-lettered`);
        }
        await q.close();
      },
    ),
    { numRuns: 60 },
  );
});

// The docs' promises about how attempts end, each as a test (docs/queue.md, "How an attempt ends").

test('timeoutMs with a handler that ignores its context: its slot stays taken until it settles, and it never runs twice', async () => {
  const q = createQueue<string>({ name: 'stubborn' });
  const started: string[] = [];
  const release = gate();
  const w = q.work(
    background(),
    async (_ctx, j) => {
      started.push(j);
      if (j === 'stubborn') await release.promise; // ignores its context and its timeout
    },
    { concurrency: 1, retries: 3, backoff: constantBackoff(1), timeoutMs: 20 },
  );
  await q.enqueue(background(), 'stubborn', { id: 'stubborn' });
  await q.enqueue(background(), 'next', { id: 'next' });
  await sleep(background(), 120); // six timeouts' worth
  assert.deepEqual(started, ['stubborn'], 'no second attempt and no other job in its slot while it runs');
  release.open();
  await until(() => w.stats.completed === 2);
  assert.deepEqual(started, ['stubborn', 'next']);
  assert.equal(w.stats.retried, 0, 'it resolved: completed, not retried');
  await w.drain(50);
});

test('a handler that resolves after queue.cancel(id) completes the job: the work was done', async () => {
  const q = createQueue<string>({ name: 'done-anyway' });
  const running = gate();
  const release = gate();
  const w = q.work(
    background(),
    async () => {
      running.open();
      await release.promise; // ignores the cancel
    },
    { concurrency: 1, retries: 3 },
  );
  await q.enqueue(background(), 'j', { id: 'j' });
  await running.promise;
  assert.equal(await q.cancel('j', 'too late'), true);
  release.open();
  await until(() => w.stats.completed + w.stats.cancelled > 0);
  assert.equal(w.stats.completed, 1);
  assert.equal(w.stats.cancelled, 0);
  assert.equal(w.stats.retried, 0);
  await w.drain(50);
});

test('capacity 1: a retry of a job already accepted never waits for room and is never dropped', async () => {
  const q = createQueue<number>({ name: 'full', backend: memoryBackend({ capacity: 1 }) });
  const runs: number[] = [];
  const first = gate();
  const w = q.work(
    background(),
    async (_ctx, n) => {
      runs.push(n);
      if (n === 1 && runs.filter((r) => r === 1).length === 1) {
        await first.promise;
        throw new Error('first attempt fails');
      }
    },
    { concurrency: 1, retries: 1, backoff: constantBackoff(1) },
  );
  await q.enqueue(background(), 1);
  await until(() => runs.length === 1);
  await q.enqueue(background(), 2); // the queue is now full: job 2 waits
  assert.equal(await q.depth(), 1);
  first.open(); // job 1 fails with a retry due while the queue is full
  await until(() => w.stats.completed === 2);
  assert.deepEqual(runs.sort(), [1, 1, 2]);
  assert.equal(w.stats.retried, 1);
  assert.equal(w.stats.deadLettered, 0);
  await w.drain(50);
});

test('two workers, a retry with no delay taken at once by the other: each finish event names its own attempt', async () => {
  const q = createQueue<string>({ name: 'attempts' });
  const finishes: QueueFinishEvent[] = [];
  const onFinish = (m: unknown) => finishes.push(m as QueueFinishEvent);
  diagnostics_channel.subscribe('leash:queue:finish', onFinish);
  try {
    let runs = 0;
    const handler = async (): Promise<void> => {
      runs++;
      if (runs === 1) throw new Error('first attempt fails');
    };
    const opts = { concurrency: 1, retries: 1, backoff: constantBackoff(0) };
    const a = q.work(background(), handler, opts);
    const b = q.work(background(), handler, opts);
    await tick();
    const id = await q.enqueue(background(), 'job');
    await until(() => finishes.filter((f) => f.id === id).length === 2);
    const mine = finishes.filter((f) => f.id === id).map((f) => `${f.attempt} ${f.outcome}`);
    assert.deepEqual(mine, ['1 failed', '2 completed']);
    await Promise.all([a.drain(100), b.drain(100)]);
  } finally {
    diagnostics_channel.unsubscribe('leash:queue:finish', onFinish);
    await q.close();
  }
});

test('delays with a fraction of a millisecond run every job, once', async () => {
  const q = createQueue<number>({ name: 'fractions' });
  const ran: number[] = [];
  const w = recordRuns(q, ran, 4);
  const delays = [0.3, 1.7, 2.2, 5.123456789, 10.987654321, 3.333333333333];
  for (const [i, d] of delays.entries()) await q.enqueue(background(), i, { delayMs: d });
  await until(() => ran.length === delays.length, 2000);
  assert.deepEqual(
    [...ran].sort(),
    delays.map((_, i) => i),
  );
  await w.drain(100);
  await q.close();
});
