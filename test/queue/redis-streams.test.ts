// leashjs/queue on real Redis, and again on a 3-node Redis Cluster the test starts: a worker
// killed with SIGKILL mid-job, cancel from a third process, drain under load, a burst of jobs
// through four worker processes, and the bookkeeping (idempotent ids, delays, retries, dead
// letters). Skipped, loudly, when Redis does not answer (LEASH_TEST_REDIS=0).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import diagnostics_channel from 'node:diagnostics_channel';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Cluster, type Redis, Redis as RedisClient } from 'ioredis';
import { background, type Context, cause, createKey, sleep, withValue } from 'leashjs';
import { snapshot, verifyNone } from 'leashjs/leak';
import { createQueue, type Queue, type RedisStreamsOptions, redisStreams } from 'leashjs/queue';
import { constantBackoff } from 'leashjs/resilience';
import { BAD_JOBS } from '../../src/queue/test-support/bad-jobs.js';
import { type LocalCluster, startCluster } from '../resilience/redis-cluster.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { connect } from './fixtures/redis.js';

const workerKey = createKey<number>('worker');
const skip = process.env.LEASH_TEST_REDIS === '0' ? 'Redis is not available (LEASH_TEST_REDIS=0)' : false;
const BURST = Number(process.env.LEASH_QUEUE_BURST ?? 100_000);
const fixture = (f: string): string => fileURLToPath(new URL(`./fixtures/${f}`, import.meta.url));

interface Child {
  proc: ChildProcess;
  line(match: (l: string) => boolean, ms?: number): Promise<string>;
  exited: Promise<number | null>;
}

function child(file: string, env: Record<string, string>): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', fixture(file)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return {
    proc,
    exited,
    async line(match, ms = 20_000) {
      const end = Date.now() + ms;
      for (;;) {
        const found = lines.find(match);
        if (found !== undefined) return found;
        if (Date.now() > end)
          throw new Error(`${file}: no line matching in ${ms} ms; got ${JSON.stringify(lines)}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
    },
  };
}

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`not met in ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const targets: { name: string; cluster: boolean }[] = [
  { name: 'Redis', cluster: false },
  { name: 'a 3-node Redis Cluster started by the test', cluster: true },
];

for (const target of targets) {
  describe(`leashjs/queue on ${target.name}`, { skip, timeout: 600_000 }, () => {
    let cluster: LocalCluster | undefined;
    let spec = '6379';
    let redis: Redis | Cluster;
    const queues: string[] = [];

    before(async () => {
      if (target.cluster) {
        cluster = await startCluster(3);
        spec = `cluster:${cluster.ports.join(',')}`;
      }
      redis = connect(spec);
      // Connected before any test takes a baseline of what is alive.
      for (let i = 0; i < 4; i++) await redis.ping();
    });

    after(async () => {
      for (const name of queues) {
        const k = `leash:queue:{${name}}`;
        await redis.del(k, `${k}:delayed`, `${k}:dead`, `${k}:done`, `${k}:started`, `${k}:ended`);
      }
      await redis.quit();
      await cluster?.stop();
    });

    // pendingIn counts the entries delivered to the group's workers and not yet acknowledged.
    const pendingIn = async (stream: string): Promise<number> =>
      ((await redis.xpending(stream, 'workers')) as [number])[0];

    const newQueue = <J>(opts?: { visibilityMs?: number; prefetch?: number }): Queue<J> => {
      const name = `t-${randomUUID().slice(0, 8)}`;
      queues.push(name);
      return createQueue<J>({
        name,
        backend: redisStreams({ redis, blockMs: 100, retainMs: 600_000, ...opts }),
      });
    };

    // killedMidJob runs job n (id) in a worker process (visibilityMs 400) and kills it with
    // SIGKILL once the job has started: the job is left running in Redis, its worker gone.
    const killedMidJob = async (q: Queue<{ n: number }>, n: number, id: string): Promise<void> => {
      const c = child('worker.ts', {
        LEASH_QUEUE_REDIS: spec,
        QUEUE: q.name,
        MODE: 'hang',
        VIS: '400',
        CONCURRENCY: '1',
      });
      await c.line((l) => l === 'ready');
      await q.enqueue(background(), { n }, { id });
      await c.line((l) => l === `started ${n}`);
      c.proc.kill('SIGKILL');
      await c.exited;
    };

    test('ids are idempotent even after the job finished; delayed jobs wait; failures retry, then reach the dead-letter stream', async () => {
      // Its own client, so that the leak check at the end covers every connection the queue opened.
      const base = snapshot();
      const own = connect(spec);
      const name = `t-${randomUUID().slice(0, 8)}`;
      queues.push(name);
      const q = createQueue<{ n: number; fail?: boolean }>({
        name,
        backend: redisStreams({ redis: own, blockMs: 100, retainMs: 600_000 }),
      });
      const runs: number[] = [];
      const startedAt = new Map<number, number>();
      const w = q.work(
        background(),
        async (_ctx, job) => {
          runs.push(job.n);
          startedAt.set(job.n, Date.now());
          if (job.fail) throw Object.assign(new Error('always fails'), { code: 'E_FAIL' });
        },
        { concurrency: 4, retries: 2, backoff: constantBackoff(20) },
      );
      assert.equal(await q.enqueue(background(), { n: 1 }, { id: 'one' }), 'one');
      await until(() => runs.includes(1), 5000, 'job 1 ran');
      assert.equal(await q.enqueue(background(), { n: 1 }, { id: 'one' }), 'one');
      const t0 = Date.now();
      await q.enqueue(background(), { n: 2 }, { delayMs: 300 });
      await q.enqueue(background(), { n: 3, fail: true }, { id: 'bad' });
      await until(
        () => runs.includes(2) && w.stats.deadLettered === 1,
        5000,
        'delayed ran and bad dead-lettered',
      );
      assert.ok((startedAt.get(2) as number) - t0 >= 295, 'the delayed job waited');
      assert.equal(runs.filter((n) => n === 1).length, 1, 'the duplicate id did not run again');
      assert.equal(runs.filter((n) => n === 3).length, 3, 'one attempt and two retries');
      const [dead] = await q.deadLetters();
      assert.equal(dead?.id, 'bad');
      assert.deepEqual(dead?.data, { n: 3, fail: true });
      assert.equal(dead?.attempts, 3);
      assert.deepEqual(dead?.error, { name: 'Error', message: 'always fails', code: 'E_FAIL' });
      assert.equal(await q.depth(), 0);
      // Long completed now (a completed job is a plain 'completed' key until retainMs): still known.
      assert.equal(await q.cancel('one'), false, 'a completed job cannot be cancelled');
      assert.equal(await q.enqueue(background(), { n: 1 }, { id: 'one' }), 'one');
      assert.equal(await q.cancel('bad'), false, 'a dead-lettered job cannot be cancelled');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(runs.filter((n) => n === 1).length, 1, 'a completed id is not run again');
      await w.drain(500);
      await q.close();
      await own.quit();
      // ioredis's Cluster leaves its own listeners on its internal ConnectionPool after quit(): they go
      // with the client object, and hold no socket or timer.
      await verifyNone({ baseline: base, timeoutMs: 3000, ignore: [{ type: /ConnectionPool/ }] });
    });

    test('a job that cannot be stored as JSON is refused with LEASH_ERR_INVALID_ARG, as on the memory backend', async () => {
      const q = newQueue<unknown>();
      // undefined, a function and a symbol used to be stored as null and run as null.
      for (const [job, message] of BAD_JOBS)
        await assert.rejects(q.enqueue(background(), job), {
          name: 'TypeError',
          code: 'LEASH_ERR_INVALID_ARG',
          message,
        });
      assert.equal(await q.depth(), 0, 'no refused job was stored');
      const ran: unknown[] = [];
      const w = q.work(background(), async (_ctx, job) => void ran.push(job), { concurrency: 1 });
      await q.enqueue(background(), null);
      await until(() => ran.length === 1, 5000, 'the null job ran');
      assert.deepEqual(ran, [null]);
      await w.drain(500);
      await q.close();
    });

    test('workers watch their client for dropped connections with one listener, removed when the last stops', async () => {
      const before = redis.listenerCount('close');
      const a = newQueue<{ n: number }>();
      const b = newQueue<{ n: number }>();
      const workers = [a, a, b].map((q) => q.work(background(), async () => {}, { concurrency: 2 }));
      assert.equal(redis.listenerCount('close'), before + 1, 'one listener for three workers of two queues');
      // A worker that stops lets go of its client; b's worker still watches it.
      await workers[0]?.drain(1000);
      await workers[1]?.drain(1000);
      assert.equal(redis.listenerCount('close'), before + 1, "b's worker still watches");
      await workers[2]?.drain(1000);
      assert.equal(redis.listenerCount('close'), before);
      await a.close();
      await b.close();
    });

    test('a worker killed with SIGKILL mid-job: its job is reclaimed after the visibility timeout and completed once', async () => {
      const q = newQueue<{ n: number }>({ visibilityMs: 400 });
      await killedMidJob(q, 7, 'victim');
      const done: { n: number; attempt: number }[] = [];
      let attempts = 0;
      const w = q.work(
        background(),
        async (_ctx, job) => {
          attempts++;
          done.push({ n: job.n, attempt: attempts });
        },
        { concurrency: 2 },
      );
      await until(() => done.length === 1, 10_000, 'the job was reclaimed');
      await sleep(background(), 600);
      assert.deepEqual(
        done.map((d) => d.n),
        [7],
        'completed once',
      );
      assert.equal(await q.cancel('victim'), false, 'finished');
      await w.drain(500);
      await q.close();
    });

    test('cancel from a third process ends a running job within 100 ms, and it is not retried', async () => {
      const q = newQueue<{ n: number }>();
      const key = `leash:queue:{${q.name}}`;
      const worker = child('worker.ts', {
        LEASH_QUEUE_REDIS: spec,
        QUEUE: q.name,
        MODE: 'hang',
        CONCURRENCY: '2',
      });
      await worker.line((l) => l === 'ready');
      await q.enqueue(background(), { n: 1 }, { id: 'job-1' });
      await worker.line((l) => l === 'started 1');
      await sleep(background(), 100); // the worker's cancel subscription is in place long before this
      const canceller = child('cancel.ts', { LEASH_QUEUE_REDIS: spec, QUEUE: q.name, JOB: 'job-1' });
      const asked = JSON.parse(await canceller.line((l) => l.startsWith('{'))) as {
        at: number;
        found: boolean;
      };
      assert.equal(asked.found, true);
      await until(async () => (await redis.llen(`${key}:ended`)) === 1, 5000, 'the handler ended');
      const ended = JSON.parse((await redis.lindex(`${key}:ended`, 0)) as string) as {
        at: number;
        cause: string;
      };
      assert.equal(ended.cause, 'LEASH_ERR_JOB_CANCELLED');
      const ms = ended.at - asked.at;
      assert.ok(ms < 100, `the running job ended ${ms} ms after the cancel`);
      await sleep(background(), 300);
      assert.equal(await redis.llen(`${key}:started`), 1, 'not retried');
      assert.equal(await redis.hget(`${key}:job:job-1`, 's'), 'cancelled');
      worker.proc.kill('SIGTERM');
      const report = JSON.parse(await worker.line((l) => l.startsWith('{"report"'))) as {
        stats: { cancelled: number };
      };
      assert.equal(report.stats.cancelled, 1);
      assert.equal(await worker.exited, 0);
      await canceller.exited;
      await q.close();
    });

    test('a job cancelled while queued leaves the stream at once, never starts, and its id stays known', async (t) => {
      const q = newQueue<{ n: number }>();
      const key = `leash:queue:{${q.name}}`;
      for (let n = 1; n <= 3; n++) await q.enqueue(background(), { n }, { id: `q${n}` });
      assert.equal(await q.cancel('q2'), true);
      assert.equal(await redis.xlen(key), 2, 'its entry was deleted');
      assert.equal(await q.depth(), 2);
      assert.equal(await q.cancel('q2'), false, 'already cancelled');
      assert.equal(await q.enqueue(background(), { n: 2 }, { id: 'q2' }), 'q2');
      const ran: number[] = [];
      const w = q.work(
        background(),
        async (_ctx, job) => {
          ran.push(job.n);
        },
        { concurrency: 2 },
      );
      t.after(async () => {
        await w.drain(1000);
        await q.close();
      });
      await until(() => ran.length === 2, 5000, 'q1 and q3 ran');
      await sleep(background(), 200);
      assert.deepEqual(ran, [1, 3]);
      assert.equal(await redis.hget(`${key}:job:q2`, 's'), 'cancelled');
      assert.equal(await redis.xlen(key), 0);
    });

    test('an entry written before data moved into the stream (its job hash holds the data) still runs', async (t) => {
      const q = newQueue<{ n: number }>();
      const key = `leash:queue:{${q.name}}`;
      // The layout of leashjs 0.x before this one: the entry carries only the id.
      await redis.hset(
        `${key}:job:old`,
        'd',
        JSON.stringify({ n: 7 }),
        'a',
        '0',
        'dl',
        '',
        'r',
        String(Date.now()),
        's',
        'queued',
      );
      await redis.xgroup('CREATE', key, 'workers', '0', 'MKSTREAM');
      await redis.xadd(key, '*', 'i', 'old');
      const ran: number[] = [];
      let fail = true;
      const w = q.work(
        background(),
        async (_ctx, job) => {
          ran.push(job.n);
          if (fail) {
            fail = false;
            throw new Error('once');
          }
        },
        { concurrency: 1, retries: 1, backoff: constantBackoff(10) },
      );
      t.after(async () => {
        await w.drain(1000);
        await q.close();
      });
      await until(() => w.stats.completed === 1, 5000, 'the old entry ran, failed once, and ran again');
      assert.deepEqual(ran, [7, 7], 'its data reached both attempts');
      assert.equal(await redis.get(`${key}:job:old`), 'completed');
    });

    // A gate the handlers of the next two tests wait on (some with prefetch: 4).
    const gated = (): { wait: (ctx: Context) => Promise<void>; open: () => void } => {
      let open!: () => void;
      const gate = new Promise<void>((r) => {
        open = r;
      });
      return {
        open,
        wait: (ctx) =>
          new Promise<void>((resolve, reject) => {
            gate.then(resolve);
            ctx.done.then(() => reject(ctx.err));
          }),
      };
    };

    test('a job fetched ahead (prefetch) whose cancel arrives before it starts never runs and is not retried', async (t) => {
      const q = newQueue<{ n: number }>({ prefetch: 4 });
      const key = `leash:queue:{${q.name}}`;
      const gate = gated();
      // On a failed assertion too: the handlers end, the worker and the queue close.
      t.after(async () => {
        gate.open();
        diagnostics_channel.unsubscribe('leash:queue:cancel', onCancel);
        await w.drain(1000);
        await q.close();
      });
      const starts: number[] = [];
      const cancels: { id: string; running: boolean }[] = [];
      const onCancel = (m: unknown): void => {
        const e = m as { queue: string; id: string; running: boolean };
        if (e.queue === q.name) cancels.push({ id: e.id, running: e.running });
      };
      diagnostics_channel.subscribe('leash:queue:cancel', onCancel);
      for (let n = 1; n <= 6; n++) await q.enqueue(background(), { n }, { id: `p${n}` });
      const w = q.work(
        background(),
        async (ctx, job) => {
          starts.push(job.n);
          await gate.wait(ctx);
        },
        { concurrency: 2 },
      );
      // The first fetch came back full (2 of 2): the next two are fetched ahead, taken by this
      // worker in Redis, but not started.
      await until(
        async () => (await redis.hget(`${key}:job:p4`, 's')) === 'active',
        5000,
        'p3, p4 fetched ahead',
      );
      assert.equal(await redis.hget(`${key}:job:p3`, 's'), 'active');
      assert.deepEqual(starts, [1, 2]);
      await sleep(background(), 200); // the worker's cancel subscription is in place (as above)
      assert.equal(await q.cancel('p3'), true);
      await until(async () => (await redis.hget(`${key}:job:p3`, 's')) === 'cancelled', 5000, 'p3 cancelled');
      gate.open();
      await until(() => w.stats.completed === 5, 5000, 'the five others completed');
      await sleep(background(), 200);
      assert.deepEqual(
        [...starts].sort((a, b) => a - b),
        [1, 2, 4, 5, 6],
        'p3 never started, and was not retried',
      );
      assert.deepEqual(cancels, [{ id: 'p3', running: false }]);
      assert.equal(await q.depth(), 0);
      assert.equal(await redis.xlen(key), 0, 'no entry left in the stream');
    });

    test('a cancel notice that overtakes the fetch handing its job over still ends the job when it arrives', async (t) => {
      // The notice travels on the subscriber's connection, the job on the worker's: the notice can
      // come first. Simulated: the notice is published before the job is fetched.
      const name = `t-${randomUUID().slice(0, 8)}`;
      queues.push(name);
      const q = createQueue<{ n: number }>({
        name,
        backend: redisStreams({ redis, blockMs: 100, prefetch: 0 }),
      });
      const key = `leash:queue:{${name}}`;
      const gate = gated();
      const ended: { n: number; err: unknown; ms: number }[] = [];
      const w = q.work(
        background(),
        async (ctx, job) => {
          if (job.n === 0) return gate.wait(ctx);
          const t0 = Date.now();
          await ctx.done;
          ended.push({ n: job.n, err: cause(ctx), ms: Date.now() - t0 });
          throw ctx.err;
        },
        { concurrency: 1 },
      );
      t.after(async () => {
        gate.open();
        await w.drain(1000);
        await q.close();
      });
      await q.enqueue(background(), { n: 0 }, { id: 'busy' });
      await until(() => w.running === 1, 5000, 'the worker is busy');
      await q.enqueue(background(), { n: 1 }, { id: 'late' });
      await sleep(background(), 200); // the worker's cancel subscription is in place
      await redis.publish(`${key}:cancel`, JSON.stringify({ id: 'late', reason: 'raced' }));
      await sleep(background(), 100);
      gate.open();
      await until(() => ended.length === 1, 3000, 'the job ended by the notice that came first');
      assert.equal(ended[0]?.n, 1);
      assert.equal((ended[0]?.err as { code?: string } | undefined)?.code, 'LEASH_ERR_JOB_CANCELLED');
      assert.equal(
        (ended[0]?.err as { reason?: unknown } | undefined)?.reason,
        'raced',
        'with the reason the notice carried',
      );
      assert.ok((ended[0]?.ms as number) < 100, `ended ${ended[0]?.ms} ms after it started`);
      await until(() => w.stats.cancelled === 1, 3000, 'settled as cancelled');
      await sleep(background(), 200);
      assert.equal(await redis.hget(`${key}:job:late`, 's'), 'cancelled', 'and not retried');
    });

    test('a job whose cancel was asked for is not run again: not when reclaimed from a killed worker, not as a retry', async (t) => {
      const q = newQueue<{ n: number }>({ visibilityMs: 400 });
      const key = `leash:queue:{${q.name}}`;
      // Reclaimed: the worker running the job is killed, then its cancel is asked for (found
      // running, flagged, told to nobody).
      await killedMidJob(q, 1, 'k1');
      assert.equal(await q.cancel('k1'), true);
      // A retry: the job fails after its cancel was flagged, the notice never having reached the
      // worker (the flag is set directly, as when the message and the renewal are both missed).
      const gate = gated();
      const starts: number[] = [];
      const w = q.work(
        background(),
        async (ctx, job) => {
          starts.push(job.n);
          if (job.n === 2) {
            await gate.wait(ctx);
            throw new Error('failed after its cancel was asked for');
          }
        },
        { concurrency: 2, retries: 3, backoff: constantBackoff(10) },
      );
      t.after(async () => {
        gate.open();
        await w.drain(1000);
        await q.close();
      });
      await q.enqueue(background(), { n: 2 }, { id: 'k2' });
      await until(() => starts.includes(2), 5000, 'k2 started');
      await redis.hset(`${key}:job:k2`, 'c', '1');
      gate.open();
      await until(
        async () => (await redis.hget(`${key}:job:k1`, 's')) === 'cancelled',
        5000,
        'k1 reclaimed and cancelled',
      );
      await until(
        async () => (await redis.hget(`${key}:job:k2`, 's')) === 'cancelled',
        5000,
        'k2 cancelled instead of retried',
      );
      await sleep(background(), 500);
      assert.deepEqual(starts, [2], 'k1 was not started again, k2 not retried');
      assert.equal(await redis.xlen(key), 0);
      assert.equal(await redis.zcard(`${key}:delayed`), 0);
      assert.equal(await q.depth(), 0);
      assert.deepEqual(await q.deadLetters(), []);
    });

    test('drain hands back the jobs fetched ahead (up to prefetch x concurrency), lists them, and uncounts their attempt; another worker runs each once', async (t) => {
      const q = newQueue<{ n: number }>({ prefetch: 4 });
      const key = `leash:queue:{${q.name}}`;
      const gate = gated();
      let w2: ReturnType<typeof q.work> | undefined;
      t.after(async () => {
        gate.open();
        await w1.drain(1000);
        await w2?.drain(1000);
        await q.close();
      });
      const runs = new Map<number, number[]>();
      const handler = async (ctx: Context, job: { n: number }): Promise<void> => {
        runs.set(job.n, [...(runs.get(job.n) ?? []), ctx.value(workerKey) as number]);
        await gate.wait(ctx);
      };
      for (let n = 1; n <= 6; n++) await q.enqueue(background(), { n }, { id: `d${n}` });
      const w1 = q.work(withValue(background(), workerKey, 1), handler, { concurrency: 2 });
      // Concurrency 2 and prefetch 4: the four others (up to 8) are fetched ahead.
      await until(
        async () => (await redis.hget(`${key}:job:d6`, 's')) === 'active',
        5000,
        'd3-d6 fetched ahead',
      );
      const report = await w1.drain(50);
      const all = ['d1', 'd2', 'd3', 'd4', 'd5', 'd6'];
      assert.deepEqual([...report.handedBack].sort(), all);
      assert.deepEqual(report.completed, []);
      // d1 and d2 ran out of time, the others never started: none of the six attempts counts.
      for (const id of all) assert.equal(await redis.hget(`${key}:job:${id}`, 'a'), '0', id);
      assert.deepEqual([...runs.keys()].sort(), [1, 2]);
      gate.open();
      const second = q.work(withValue(background(), workerKey, 2), handler, { concurrency: 2 });
      w2 = second;
      await until(() => second.stats.completed === 6, 5000, 'all six completed on the second worker');
      for (let n = 1; n <= 6; n++)
        assert.deepEqual(runs.get(n), n <= 2 ? [1, 2] : [2], `job ${n} ran once on worker 2`);
      assert.equal(await redis.xlen(key), 0);
    });

    test('the stream keeps only jobs waiting or running: completed entries leave it, also behind a job still running', async (t) => {
      const q = newQueue<{ n: number }>();
      const key = `leash:queue:{${q.name}}`;
      const gate = gated();
      t.after(async () => {
        gate.open();
        await w.drain(1000);
        await q.close();
      });
      const done: number[] = [];
      const w = q.work(
        background(),
        async (ctx, job) => {
          if (job.n === 0) await gate.wait(ctx);
          done.push(job.n);
        },
        { concurrency: 4 },
      );
      // Job 0 holds the oldest pending entry while 200 later ones complete around it: their
      // entries cannot be trimmed from the head of the stream, and must still go.
      await q.enqueue(background(), { n: 0 }, { id: 's0' });
      for (let i = 1; i <= 200; i += 50)
        await Promise.all(Array.from({ length: 50 }, (_, k) => q.enqueue(background(), { n: i + k })));
      await until(() => done.length === 200, 10_000, '200 fast jobs completed');
      await sleep(background(), 100);
      assert.equal(await redis.xlen(key), 1, 'only the running job is left');
      assert.equal(await q.depth(), 0);
      gate.open();
      await until(() => done.length === 201, 5000, 'job 0 completed');
      await sleep(background(), 100);
      assert.equal(await redis.xlen(key), 0);
      // In order now, trimmed from the head: the stream stays empty between batches.
      for (let i = 0; i < 300; i += 50)
        await Promise.all(Array.from({ length: 50 }, (_, k) => q.enqueue(background(), { n: 1000 + i + k })));
      await until(() => done.length === 501, 10_000, '300 more completed');
      await sleep(background(), 100);
      assert.equal(await redis.xlen(key), 0);
      assert.equal(await q.depth(), 0);
    });

    test('drain under load loses nothing: handed-back jobs run once more elsewhere, every job completes exactly once', async () => {
      const q1 = newQueue<{ n: number }>();
      const q2 = createQueue<{ n: number }>({
        name: q1.name,
        backend: redisStreams({ redis, blockMs: 100 }),
      });
      const N = 3000;
      const starts = new Map<number, number>();
      const completions = new Map<number, number>();
      const handler = async (ctx: Context, job: { n: number }): Promise<void> => {
        starts.set(job.n, (starts.get(job.n) ?? 0) + 1);
        await sleep(ctx, 1 + (job.n % 10));
        completions.set(job.n, (completions.get(job.n) ?? 0) + 1);
      };
      const w1 = q1.work(background(), handler, { concurrency: 16 });
      const w2 = q2.work(background(), handler, { concurrency: 16 });
      for (let i = 0; i < N; i += 500)
        await Promise.all(
          Array.from({ length: Math.min(500, N - i) }, (_, k) =>
            q1.enqueue(background(), { n: i + k }, { id: `j${i + k}` }),
          ),
        );
      await until(() => completions.size >= N / 3, 30_000, 'a third done');
      const report = await w1.drain(3);
      await until(() => completions.size === N, 60_000, `all ${N} completed (have ${completions.size})`);
      await sleep(background(), 200);
      for (let n = 0; n < N; n++) assert.equal(completions.get(n), 1, `job ${n} completed exactly once`);
      const handedBack = new Set(report.handedBack);
      for (const [n, s] of starts) {
        if (s > 1) assert.ok(handedBack.has(`j${n}`), `job ${n} started ${s} times but was not handed back`);
        assert.ok(s <= 2);
      }
      assert.ok(report.completed.length + report.handedBack.length > 0);
      assert.deepEqual(await q1.deadLetters(), []);
      assert.equal(await q1.depth(), 0);
      await w2.drain(1000);
      await q1.close();
      await q2.close();
    });

    // One proxy in front of one server: registered on the standalone Redis only.
    if (!target.cluster)
      test('Redis cut mid-run (a TCP proxy the test controls): the worker reports it, waits, and resumes; every job completes exactly once, well before visibilityMs', async () => {
        const proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
        // No offline queue: a command during the outage fails at once, so the worker's own retry path
        // (report, back off, fetch again) is what brings it back, not ioredis's buffering.
        const viaProxy = new RedisClient({
          host: '127.0.0.1',
          port: proxy.port,
          maxRetriesPerRequest: 1,
          enableOfflineQueue: false,
        });
        viaProxy.on('error', () => {});
        const name = `t-${randomUUID().slice(0, 8)}`;
        queues.push(name);
        const storeErrors: unknown[] = [];
        const workerSide = createQueue<{ n: number }>({
          name,
          // The default visibilityMs (30 s): jobs a fetch in flight at the cut took are adopted,
          // and settlements whose reply was lost are sent again, instead of waiting for a reclaim.
          backend: redisStreams({ redis: viaProxy, blockMs: 100 }),
          onStoreError: (e) => storeErrors.push(e),
        });
        const producer = createQueue<{ n: number }>({ name, backend: redisStreams({ redis, blockMs: 100 }) });
        const completions = new Map<number, number>();
        const w = workerSide.work(
          background(),
          async (_ctx, job) => {
            completions.set(job.n, (completions.get(job.n) ?? 0) + 1);
          },
          { concurrency: 8 },
        );
        await new Promise((r) => viaProxy.once('ready', r));
        const N = 400;
        for (let i = 0; i < N / 2; i++) await producer.enqueue(background(), { n: i }, { id: `c${i}` });
        await until(() => completions.size >= 50, 20_000, 'some done');
        proxy.down();
        proxy.cut();
        for (let i = N / 2; i < N; i++) await producer.enqueue(background(), { n: i }, { id: `c${i}` });
        await sleep(background(), 1000);
        proxy.up();
        await until(
          () => completions.size === N,
          15_000,
          `all ${N} completed after the network came back (have ${completions.size})`,
        );
        await until(async () => (await workerSide.depth()) === 0, 5000, 'nothing waiting');
        await until(async () => (await pendingIn(`leash:queue:{${name}}`)) === 0, 5000, 'nothing pending');
        for (let n = 0; n < N; n++) assert.equal(completions.get(n), 1, `job ${n} completed once`);
        assert.ok(storeErrors.length > 0, 'the outage was reported through onStoreError');
        assert.ok(w.stats.storeErrors > 0);
        await w.drain(1000);
        await workerSide.close();
        await producer.close();
        viaProxy.disconnect();
        await proxy.close();
      });

    // The proxy loses the replies of commands Redis ran: the jobs a lost fetch took are pending to
    // the worker and held by nobody. With the default visibilityMs (30 s) they would wait that long
    // for a reclaim; the worker adopts them at its next fetch instead, their attempt counted once.
    // Two clients: one whose commands fail at once when the connection drops, and ioredis's
    // defaults, which send a command again after the reconnect (the second reply comes; the jobs
    // the first run took are orphans, and only the dropped connection tells).
    // behindProxy makes a queue whose worker side talks to Redis through a TCP proxy the test controls.
    const behindProxy = async (clientOpts: object, backendOpts: Partial<RedisStreamsOptions>) => {
      const proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
      const viaProxy = new RedisClient({ host: '127.0.0.1', port: proxy.port, ...clientOpts });
      viaProxy.on('error', () => {});
      const name = `t-${randomUUID().slice(0, 8)}`;
      queues.push(name);
      const key = `leash:queue:{${name}}`;
      const workerSide = createQueue<{ n: number }>({
        name,
        backend: redisStreams({ ...backendOpts, redis: viaProxy }),
        onStoreError: () => {},
      });
      return { proxy, viaProxy, name, key, workerSide };
    };

    const lostReplies = async (
      t: { after: (fn: () => Promise<void>) => void },
      clientOpts: object,
      opts: { concurrency: number; blockMs?: number; handler?: (ctx: Context) => Promise<void> },
    ) => {
      const { proxy, viaProxy, name, key, workerSide } = await behindProxy(clientOpts, {
        blockMs: opts.blockMs ?? 100,
        prefetch: 4,
      });
      const producer = createQueue<{ n: number }>({ name, backend: redisStreams({ redis, blockMs: 100 }) });
      const runs = new Map<number, number>();
      const attempts = new Map<string, number[]>();
      const onStart = (m: unknown): void => {
        const e = m as { queue: string; id: string; attempt: number };
        if (e.queue === name) attempts.set(e.id, [...(attempts.get(e.id) ?? []), e.attempt]);
      };
      diagnostics_channel.subscribe('leash:queue:start', onStart);
      let w: ReturnType<typeof workerSide.work> | undefined;
      // start starts the worker (behind the proxy).
      const start = async (): Promise<void> => {
        w = workerSide.work(
          background(),
          async (ctx, job) => {
            runs.set(job.n, (runs.get(job.n) ?? 0) + 1);
            await opts.handler?.(ctx);
          },
          { concurrency: opts.concurrency },
        );
        if (viaProxy.status !== 'ready') await new Promise((r) => viaProxy.once('ready', r));
      };
      t.after(async () => {
        diagnostics_channel.unsubscribe('leash:queue:start', onStart);
        proxy.holdReplies(false);
        proxy.holdRequests(false);
        const cleanup = async (): Promise<void> => {
          await w?.drain(1000);
          await workerSide.close();
        };
        const stuck = await Promise.race([
          cleanup().then(() => false),
          new Promise<boolean>((r) => setTimeout(() => r(true), 10_000).unref()),
        ]);
        await producer.close();
        viaProxy.disconnect();
        await proxy.close();
        assert.equal(stuck, false, 'the worker drained and its queue closed within 10 s');
      });
      const pending = (): Promise<number> => pendingIn(key);
      // cutAndCheck cuts the held connections and checks that jobs 1..n all run once, well within
      // visibilityMs, at attempt 1, and that nothing is left pending.
      const cutAndCheck = async (n: number): Promise<void> => {
        await sleep(background(), 200);
        proxy.cut();
        proxy.holdReplies(false);
        const cutAt = Date.now();
        await until(
          () => [...runs.keys()].filter((k) => k >= 1).length === n,
          8000,
          `all ${n} ran well before visibilityMs (have ${runs.size})`,
        );
        assert.ok(Date.now() - cutAt < 8000);
        await until(async () => (await pending()) === 0, 5000, 'nothing left pending');
        for (let i = 1; i <= n; i++) {
          assert.equal(runs.get(i), 1, `job ${i} ran once`);
          assert.deepEqual(attempts.get(`l${i}`), [1], `job l${i} started once, at attempt 1`);
          assert.equal(await redis.get(`${key}:job:l${i}`), 'completed');
        }
      };
      return { proxy, key, producer, runs, pending, start, cutAndCheck };
    };

    if (!target.cluster)
      for (const client of [
        { name: 'commands fail at once', opts: { maxRetriesPerRequest: 1, enableOfflineQueue: false } },
        { name: "ioredis's defaults: commands sent again", opts: {} },
      ]) {
        test(`jobs an idle worker's blocking read took whose reply was lost run at once, not after visibilityMs (${client.name})`, {
          timeout: 30_000,
        }, async (t) => {
          // A long blocking read: the idle worker waits in it when the jobs arrive.
          const { proxy, producer, runs, pending, start, cutAndCheck } = await lostReplies(t, client.opts, {
            concurrency: 4,
            blockMs: 5000,
          });
          await start();
          await producer.enqueue(background(), { n: 0 }, { id: 'warm' });
          await until(() => runs.get(0) === 1, 5000, 'the worker runs');
          await sleep(background(), 300);
          proxy.holdReplies(true);
          const N = 20;
          for (let n = 1; n <= N; n++) await producer.enqueue(background(), { n }, { id: `l${n}` });
          // The read took the first job in Redis; its reply is lost.
          await until(async () => (await pending()) === 1, 5000, 'a read whose reply is lost took a job');
          await cutAndCheck(N);
        });

        test(`jobs a fetch ahead took whose reply was lost run at once, their attempt counted once (${client.name})`, {
          timeout: 30_000,
        }, async (t) => {
          const gate = gated();
          const { proxy, key, producer, pending, start, cutAndCheck } = await lostReplies(t, client.opts, {
            concurrency: 2,
            handler: (ctx) => gate.wait(ctx),
          });
          const N = 40;
          for (let n = 1; n <= N; n++) await producer.enqueue(background(), { n }, { id: `l${n}` });
          await start();
          // Concurrency 2 and prefetch 4: l1-l2 run, l3-l10 wait fetched ahead.
          await until(
            async () => (await redis.hget(`${key}:job:l10`, 's')) === 'active',
            5000,
            'l3-l10 ahead',
          );
          proxy.holdReplies(true);
          gate.open();
          // The ten finish (their settlements' replies lost), and the next fetch ahead starts
          // l11-l18 in Redis; its reply is lost.
          await until(
            async () => (await redis.hget(`${key}:job:l18`, 's')) === 'active',
            5000,
            'the next fetch ahead took l11-l18',
          );
          assert.ok((await pending()) >= 8);
          await cutAndCheck(N);
        });
      }

    if (!target.cluster)
      test('a settlement that fails while Redis is away is sent again once it is back: the jobs are not run twice, nor left pending', {
        timeout: 30_000,
      }, async (t) => {
        const gate = gated();
        const { proxy, key, producer, runs, pending, start } = await lostReplies(
          t,
          // Commands fail at once while the connection is down.
          { maxRetriesPerRequest: 1, enableOfflineQueue: false },
          { concurrency: 2, handler: (ctx) => gate.wait(ctx) },
        );
        await producer.enqueue(background(), { n: 1 }, { id: 'l1' });
        await producer.enqueue(background(), { n: 2 }, { id: 'l2' });
        await start();
        await until(() => runs.size === 2, 5000, 'both running');
        // The network goes down for a second; both jobs finish meanwhile, and their settlement
        // fails, and so do the first tries to send it again.
        proxy.down();
        proxy.cut();
        await sleep(background(), 100);
        gate.open();
        await sleep(background(), 1000);
        assert.equal(await pending(), 2, 'the two are still pending: their settlement was not recorded');
        proxy.up();
        await until(async () => (await pending()) === 0, 5000, 'the settlement sent again');
        assert.equal(await redis.get(`${key}:job:l1`), 'completed');
        assert.equal(await redis.get(`${key}:job:l2`), 'completed');
        assert.deepEqual([runs.get(1), runs.get(2)], [1, 1]);
        assert.equal(await redis.xlen(key), 0);
      });

    if (!target.cluster)
      test('drain and close do not wait on a Redis that stops answering; what the unanswered fetch took is reclaimed, nothing lost', {
        timeout: 30_000,
      }, async (t) => {
        // No fetching ahead: s2 and s3 wait in Redis, so the worker's next fetch is in flight.
        const backend = { blockMs: 100, visibilityMs: 1000, prefetch: 0 };
        const { proxy, viaProxy, name, workerSide } = await behindProxy({ maxRetriesPerRequest: 1 }, backend);
        const other = createQueue<{ n: number }>({ name, backend: redisStreams({ redis, ...backend }) });
        t.after(async () => {
          proxy.holdReplies(false);
          await other.close();
          viaProxy.disconnect();
          await proxy.close();
        });
        const gate = gated();
        const runs: string[] = [];
        for (let n = 1; n <= 3; n++) await other.enqueue(background(), { n }, { id: `s${n}` });
        const w = workerSide.work(
          background(),
          async (ctx, job) => {
            runs.push(`w1:${job.n}`);
            await gate.wait(ctx);
          },
          { concurrency: 1 },
        );
        await until(() => runs.length === 1, 5000, 's1 running');
        // Redis stops answering: s1's settlement and the fetch that follows it get no reply.
        proxy.holdReplies(true);
        gate.open();
        await sleep(background(), 300);
        const t0 = Date.now();
        const report = await w.drain(200);
        const drainMs = Date.now() - t0;
        await workerSide.close();
        const stopMs = Date.now() - t0;
        // Each waits at most a second for a call in flight (the store's stop bound).
        assert.ok(drainMs < 2500, `drain took ${drainMs} ms`);
        assert.ok(stopMs < 4000, `drain and close took ${stopMs} ms`);
        // s1 finished before the drain; nothing ran during it.
        assert.equal(w.stats.completed, 1);
        assert.deepEqual([...report.completed, ...report.cancelled], []);
        assert.deepEqual(runs, ['w1:1']);
        // Nothing lost: another worker runs the others (the one the unanswered fetch took after
        // visibilityMs), each once.
        proxy.holdReplies(false);
        proxy.cut();
        const w2 = other.work(
          background(),
          async (_ctx, job) => {
            runs.push(`w2:${job.n}`);
          },
          { concurrency: 2 },
        );
        await until(() => runs.length === 3, 10_000, 'the other two ran');
        await w2.drain(1000);
        assert.deepEqual(runs.slice(1).sort(), ['w2:2', 'w2:3']);
        assert.equal(await redis.get(`leash:queue:{${name}}:job:s1`), 'completed');
      });

    if (!target.cluster)
      test('drain hands back a job a blocking read took whose reply was lost, at once and uncounted', {
        timeout: 30_000,
      }, async (t) => {
        // A long blocking read: the worker waits in it when the jobs arrive.
        const { proxy, viaProxy, name, key, workerSide } = await behindProxy({}, { blockMs: 5000 });
        const producer = createQueue<{ n: number }>({ name, backend: redisStreams({ redis, blockMs: 100 }) });
        const runs: string[] = [];
        const w = workerSide.work(
          background(),
          async (_ctx, job) => {
            runs.push(`w1:${job.n}`);
          },
          { concurrency: 4 },
        );
        let w2: ReturnType<typeof producer.work> | undefined;
        t.after(async () => {
          proxy.holdReplies(false);
          await w.drain(1000);
          await w2?.drain(1000);
          await workerSide.close();
          await producer.close();
          viaProxy.disconnect();
          await proxy.close();
        });
        await producer.enqueue(background(), { n: 0 }, { id: 'warm' });
        await until(() => runs.length === 1, 5000, 'the worker runs');
        await sleep(background(), 300);
        proxy.holdReplies(true);
        // The read returns with the first entry that arrives: h1 is taken, h2 and h3 wait.
        await producer.enqueue(background(), { n: 1 }, { id: 'h1' });
        await until(async () => (await pendingIn(key)) === 1, 5000, 'the blocking read took h1');
        for (let n = 2; n <= 3; n++) await producer.enqueue(background(), { n }, { id: `h${n}` });
        // Replies flow again; the read's is gone (the worker's other connection sent nothing
        // meanwhile: it waits on the read). The drain ends the read.
        proxy.holdReplies(false);
        const report = await w.drain(1000);
        assert.deepEqual([...report.handedBack], ['h1']);
        assert.deepEqual(runs, ['w1:0']);
        assert.equal(await pendingIn(key), 0);
        assert.equal(await producer.depth(), 3);
        for (let n = 1; n <= 3; n++) {
          assert.equal(await redis.hget(`${key}:job:h${n}`, 's'), 'queued');
          assert.equal(await redis.hget(`${key}:job:h${n}`, 'a'), '0');
        }
        const second = producer.work(
          background(),
          async (_ctx, job) => {
            runs.push(`w2:${job.n}`);
          },
          { concurrency: 4 },
        );
        w2 = second;
        await until(() => second.stats.completed === 3, 3000, 'a second worker runs the three at once');
        assert.deepEqual(runs.slice(1).sort(), ['w2:1', 'w2:2', 'w2:3']);
      });

    test(`a burst of ${BURST} jobs through 4 worker processes: all complete, none twice`, {
      timeout: 300_000,
    }, async () => {
      const q = newQueue<{ n: number }>();
      const key = `leash:queue:{${q.name}}`;
      const workers = Array.from({ length: 4 }, () =>
        child('worker.ts', { LEASH_QUEUE_REDIS: spec, QUEUE: q.name, MODE: 'count', CONCURRENCY: '32' }),
      );
      for (const w of workers) await w.line((l) => l === 'ready');
      const t0 = Date.now();
      for (let i = 0; i < BURST; i += 1000)
        await Promise.all(
          Array.from({ length: Math.min(1000, BURST - i) }, (_, k) => q.enqueue(background(), { n: i + k })),
        );
      const enqueuedMs = Date.now() - t0;
      await until(async () => (await redis.hlen(`${key}:done`)) === BURST, 240_000, 'all completed');
      const doneMs = Date.now() - t0;
      const counts = await redis.hvals(`${key}:done`);
      assert.equal(counts.length, BURST);
      assert.ok(
        counts.every((c) => c === '1'),
        'none twice',
      );
      let completed = 0;
      for (const w of workers) {
        w.proc.kill('SIGTERM');
        const r = JSON.parse(await w.line((l) => l.startsWith('{"report"'))) as {
          stats: { completed: number; storeErrors: number };
        };
        completed += r.stats.completed;
        assert.equal(r.stats.storeErrors, 0);
        assert.equal(await w.exited, 0);
      }
      assert.equal(completed, BURST);
      assert.equal(await q.depth(), 0);
      console.log(`# ${target.name}: ${BURST} jobs enqueued in ${enqueuedMs} ms, all done in ${doneMs} ms`);
      await q.close();
    });
  });
}
