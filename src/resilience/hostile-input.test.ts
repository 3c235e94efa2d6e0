// Bad input and broken callbacks: each gets a coded error that names the option, as a rejection
// where execute is concerned, and nothing is lost (no unhandled rejection, no dropped outcome).
import assert from 'node:assert/strict';
import type http from 'node:http';
import { test } from 'node:test';
import { background, type Context, withCancel } from '../context/index.js';
import {
  adaptiveLimit,
  bulkhead,
  circuitBreaker,
  fallback,
  hedge,
  type Policy,
  rateLimiter,
  retry,
  shedLoad,
  timeout,
  wrap,
} from './index.js';
import { serve } from './test-support/serve.js';

const bg = background();
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

// Runs `body` and returns the unhandled rejections and warnings seen meanwhile (and a tick after).
async function watchProcess(body: () => Promise<void>): Promise<{ unhandled: unknown[]; warnings: Error[] }> {
  const unhandled: unknown[] = [];
  const warnings: Error[] = [];
  const onUnhandled = (e: unknown): void => void unhandled.push(e);
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('unhandledRejection', onUnhandled);
  process.on('warning', onWarning);
  try {
    await body();
    await tick();
    await tick();
  } finally {
    process.off('unhandledRejection', onUnhandled);
    process.off('warning', onWarning);
  }
  return { unhandled, warnings };
}

function invalid(
  e: unknown,
  message: string | RegExp,
): asserts e is TypeError & { cause?: unknown; thrown?: unknown } {
  assert.ok(e instanceof TypeError, `expected a TypeError, got ${String(e)}`);
  assert.equal((e as { code?: string }).code, 'LEASH_ERR_INVALID_ARG');
  if (typeof message === 'string') assert.equal(e.message, message);
  else assert.match(e.message, message);
}

// 1. isFailure (and the other predicates) that throw.

test('breaker: an isFailure that throws records a failure and rejects the caller with a coded error, cause the call error, no unhandled rejection', async () => {
  const bug = new Error('x');
  const down = new Error('down');
  const b = circuitBreaker({
    window: { calls: 4 },
    minimumCalls: 4,
    isFailure: () => {
      throw bug;
    },
  });
  const errors: unknown[] = [];
  const seen = await watchProcess(async () => {
    for (let i = 0; i < 4; i++) {
      errors.push(
        await b
          .execute(bg, async () => {
            throw down;
          })
          .catch((e) => e),
      );
    }
  });
  assert.deepEqual(seen.unhandled, []);
  assert.equal(b.state, 'open', 'four failures of four open it');
  assert.equal(b.metrics.failedCalls, 4);
  for (const e of errors) {
    invalid(
      e,
      'circuitBreaker: isFailure(err) threw Error: "x"; the call was counted as a failure. Fix isFailure so that it returns true or false without throwing; the call\'s own error is this error\'s cause',
    );
    assert.equal(e.cause, down);
    assert.equal(e.thrown, bug);
  }
});

test('breaker: an isFailure that returns no boolean counts a failure and says so; a successful call never asks it', async () => {
  let asked = 0;
  const b = circuitBreaker({
    window: { calls: 2 },
    minimumCalls: 2,
    name: 'payments',
    isFailure: (() => {
      asked++;
      return undefined;
    }) as never,
  });
  assert.equal(await b.execute(bg, async () => 'ok'), 'ok');
  assert.equal(asked, 0);
  const down = new Error('down');
  const e = await b
    .execute(bg, async () => {
      throw down;
    })
    .catch((x) => x);
  invalid(
    e,
    /^payments: isFailure\(err\) must return true or false, got undefined; the call was counted as a failure/,
  );
  assert.equal(e.cause, down);
  assert.equal(b.state, 'open', '1 failure of 2 reaches 50%');
});

test('breaker: isFailure still decides inside a wrap(), and a false verdict passes the call error through unchanged', async () => {
  const down = new Error('down');
  const b = circuitBreaker({ window: { calls: 2 }, minimumCalls: 2, isFailure: (e) => e !== down });
  const policy = wrap(retry({ maxAttempts: 1 }), b, timeout(1_000));
  for (let i = 0; i < 2; i++) {
    await assert.rejects(
      policy.execute(bg, async () => {
        throw down;
      }),
      (e) => e === down,
    );
  }
  assert.equal(b.state, 'closed');
  assert.deepEqual([b.metrics.calls, b.metrics.failedCalls], [2, 0]);
});

test('breaker: an isFailure that throws on abandoned work (the caller left) is emitted as a warning, and the outcome recorded', async () => {
  const bug = new Error('x');
  const b = circuitBreaker({
    window: { calls: 1 },
    minimumCalls: 1,
    isFailure: () => {
      throw bug;
    },
  });
  let fail: (e: unknown) => void = () => {};
  const [ctx, cancel] = withCancel(bg);
  const seen = await watchProcess(async () => {
    const call = b.execute(ctx, () => new Promise((_, reject) => (fail = reject)));
    cancel();
    await assert.rejects(call, { code: 'LEASH_ERR_CANCELED' });
    fail(new Error('late'));
  });
  assert.deepEqual(seen.unhandled, []);
  assert.equal(seen.warnings.length, 1);
  invalid(seen.warnings[0], /^circuitBreaker: isFailure\(err\) threw Error: "x"/);
  assert.equal((seen.warnings[0] as { cause?: Error }).cause?.message, 'late');
  assert.equal(b.state, 'open', 'the late failure was recorded');
});

test('retry: a retryOn that throws rejects with a coded error naming retryOn, cause the error that led to the retry', async () => {
  const real = new Error('the real error');
  const bug = new Error('oops');
  let attempts = 0;
  const e = await retry({
    retryOn: () => {
      throw bug;
    },
  })
    .execute(bg, async () => {
      attempts++;
      throw real;
    })
    .catch((x) => x);
  invalid(
    e,
    'retry: retryOn(err, attempt) threw Error: "oops"; no further attempt was made. Fix retryOn; the error that led to the retry is this error\'s cause',
  );
  assert.equal(e.cause, real);
  assert.equal(e.thrown, bug);
  assert.equal(attempts, 1);
});

test('fallback: a handles that throws rejects with a coded error, cause the call error; the fallback is not used', async () => {
  const real = new Error('down');
  let used = false;
  const e = await fallback(
    () => {
      used = true;
      return 'cached';
    },
    {
      handles: () => {
        throw new Error('oops');
      },
    },
  )
    .execute(bg, async () => {
      throw real;
    })
    .catch((x) => x);
  invalid(e, /^fallback: options\.handles\(err\) threw Error: "oops"; the fallback was not used/);
  assert.equal(e.cause, real);
  assert.equal(used, false);
});

// 2. A custom policy whose execute returns no promise.

test('wrap: a custom policy whose execute returns a non-promise rejects with a coded error naming its position', async () => {
  const five = { execute: () => 5 } as unknown as Policy;
  let p: Promise<unknown> | undefined;
  assert.doesNotThrow(() => {
    p = wrap(five, timeout(10)).execute(bg, async () => 'x');
  });
  const e = await (p as Promise<unknown>).catch((x) => x);
  invalid(
    e,
    "wrap(...policies): the policy at position 0 (0 is the outermost) returned the number 5 from execute(ctx, fn); a Policy's execute must return a promise: make it async, or return the promise of the fn it is given",
  );
  // Inner position, and a thenable is adopted.
  const e2 = await wrap(timeout(100), { execute: () => undefined } as unknown as Policy)
    .execute(bg, async () => 'x')
    .catch((x) => x);
  invalid(e2, /^wrap\(\.\.\.policies\): the policy at position 1 .* returned undefined/);
  const thenable = {
    execute: (ctx: Context, fn: (ctx: Context) => Promise<string>) => ({
      // biome-ignore lint/suspicious/noThenProperty: a thenable is what this test needs.
      then: (ok: (v: string) => void, no: (e: unknown) => void) => fn(ctx).then(ok, no),
    }),
  } as unknown as Policy;
  assert.equal(await wrap(thenable, timeout(100)).execute(bg, async () => 'adopted'), 'adopted');
});

// 3. A backoff or retryAfter that returns no number.

test('retry: a backoff.delayMs that returns no number of ms >= 0 rejects with a coded error naming it, cause the real error', async () => {
  for (const [bad, got] of [
    ['10', 'the string "10"'],
    [Number.NaN, 'the number NaN'],
    [-5, 'the number -5'],
    [undefined, 'undefined'],
    [{}, 'an object'],
  ] as const) {
    const real = new Error('the real error');
    let attempts = 0;
    const e = await retry({ backoff: { delayMs: () => bad as never } })
      .execute(bg, async () => {
        attempts++;
        throw real;
      })
      .catch((x) => x);
    invalid(
      e,
      `retry: backoff.delayMs(attempt, previousMs) must return a number of milliseconds >= 0 (Infinity: give the retry up), got ${got}; no further attempt was made. Fix backoff.delayMs; the error that led to the retry is this error's cause`,
    );
    assert.equal(e.cause, real);
    assert.equal(attempts, 1);
  }
  // Infinity gives the retry up with the real error, as documented.
  const real = new Error('the real error');
  await assert.rejects(
    retry({ backoff: { delayMs: () => Number.POSITIVE_INFINITY } }).execute(bg, async () => {
      throw real;
    }),
    (e) => e === real,
  );
});

test('retry: a retryAfter that returns no number (nor undefined) rejects with a coded error naming it', async () => {
  const real = new Error('the real error');
  const e = await retry({ retryAfter: () => 'soon' as never })
    .execute(bg, async () => {
      throw real;
    })
    .catch((x) => x);
  invalid(
    e,
    /^retry: retryAfter\(err\) must return a number of milliseconds >= 0 \(Infinity: give the retry up\) or undefined, got the string "soon"/,
  );
  assert.equal(e.cause, real);
});

// 4. name.

test('every resilience factory refuses a name that is not a non-empty string', () => {
  const makers: [string, (name: unknown) => unknown][] = [
    ['timeout(ms, options)', (name) => timeout(10, { name } as never)],
    ['retry(options)', (name) => retry({ name } as never)],
    ['circuitBreaker(options)', (name) => circuitBreaker({ name } as never)],
    ['bulkhead(options)', (name) => bulkhead({ limit: 1, name } as never)],
    ['rateLimiter(options)', (name) => rateLimiter({ rate: 1, name } as never)],
    ['adaptiveLimit(options)', (name) => adaptiveLimit({ name } as never)],
    ['hedge(options)', (name) => hedge({ afterMs: 5, name } as never)],
  ];
  for (const [where, make] of makers) {
    for (const [bad, got] of [
      [5, 'the number 5'],
      [{}, 'an object'],
      [[], 'an array of length 0'],
      [() => {}, 'a function'],
      [Number.NaN, 'the number NaN'],
      ['', 'the string ""'],
      [null, 'null'],
    ] as const) {
      assert.throws(
        () => make(bad),
        (e) => {
          invalid(e, `${where}: name must be a non-empty string, got ${got}`);
          return true;
        },
      );
    }
    assert.doesNotThrow(() => make('ok'));
  }
});

// 5. initialState.

test('circuitBreaker: initialState is checked fully, and a saved window of another kind or size is refused', () => {
  const again =
    'pass a toJSON() of a breaker with the same window, or leave initialState out to start closed';
  const count4 = { window: { calls: 4 } } as const;
  const cases: [object, unknown, string][] = [
    [
      count4,
      { state: 'closed', window: { kind: 'count' } },
      `circuitBreaker(options): initialState.window was saved from a count window of undefined calls, but this breaker's window is { calls: 4 }; ${again}`,
    ],
    [
      count4,
      circuitBreaker({ window: { ms: 1_000 } }).toJSON(),
      `circuitBreaker(options): initialState.window was saved from a time window of { ms: the number 1000, buckets: the number 10 }, but this breaker's window is { calls: 4 }; ${again}`,
    ],
    [
      count4,
      circuitBreaker({ window: { calls: 10 } }).toJSON(),
      `circuitBreaker(options): initialState.window was saved from a count window of the number 10 calls, but this breaker's window is { calls: 4 }; ${again}`,
    ],
    [
      { window: { ms: 1_000, buckets: 5 } },
      circuitBreaker({ window: { ms: 1_000 } }).toJSON(),
      `circuitBreaker(options): initialState.window was saved from a time window of { ms: the number 1000, buckets: the number 10 }, but this breaker's window is { ms: 1000, buckets: 5 }; ${again}`,
    ],
    [
      count4,
      { state: 'closed', window: { kind: 'count', size: 4, outcomes: [0, 7] } },
      `circuitBreaker(options): initialState.window.outcomes must be an array of at most 4 outcomes (integers from 0 to 3), got an array of length 2; ${again}`,
    ],
    [
      count4,
      { state: 'open', window: { kind: 'count', size: 4, outcomes: [] } },
      'circuitBreaker(options): initialState.openUntil (epoch ms, as toJSON() gives for an open breaker) must be a finite number, got undefined',
    ],
    [
      count4,
      { state: 'closed', window: null },
      `circuitBreaker(options): initialState.window must be a window's toJSON() ({ kind: 'count', ... } or { kind: 'time', ... }), got null; ${again}`,
    ],
    [
      count4,
      'closed',
      `circuitBreaker(options): initialState must be a breaker's toJSON() ({ state, openUntil?, window }), got the string "closed"; ${again}`,
    ],
  ];
  for (const [options, initialState, message] of cases) {
    assert.throws(
      () => circuitBreaker({ ...options, initialState } as never),
      (e) => {
        invalid(e, message);
        return true;
      },
    );
  }
  // The same window round-trips.
  const saved = circuitBreaker({ window: { ms: 1_000, buckets: 5 } }).toJSON();
  assert.equal(circuitBreaker({ window: { ms: 1_000, buckets: 5 }, initialState: saved }).state, 'closed');
});

// 6. rateLimiter's key.

test('rateLimiter: a key that returns no string, or throws, is a coded rejection and fn does not run', async () => {
  let ran = 0;
  const fn = async (): Promise<void> => {
    ran++;
  };
  for (const [bad, got] of [
    [{}, 'an object'],
    [7, 'the number 7'],
    [Symbol('k'), 'a symbol (k)'],
    [null, 'null'],
  ] as const) {
    const rl = rateLimiter({ rate: 1, burst: 1, key: () => bad as never });
    for (let i = 0; i < 2; i++) {
      const e = await rl.execute(bg, fn).catch((x) => x);
      invalid(
        e,
        `rateLimiter: key(ctx) must return a string (calls with the same string share a bucket), got ${got}; the call was not run. Fix key to return an id such as a user's or a tenant's, or 'anonymous'; what it threw, if anything, is this error's cause`,
      );
    }
  }
  const bug = new Error('no user');
  const rl = rateLimiter({
    rate: 1,
    key: () => {
      throw bug;
    },
  });
  let p: Promise<unknown> | undefined;
  assert.doesNotThrow(() => {
    p = rl.execute(bg, fn);
  });
  const e = await (p as Promise<unknown>).catch((x) => x);
  invalid(
    e,
    `rateLimiter: key(ctx) threw Error: "no user"; the call was not run. Fix key to return an id such as a user's or a tenant's, or 'anonymous'; what it threw, if anything, is this error's cause`,
  );
  assert.equal(e.cause, bug);
  assert.equal(ran, 0);
  assert.throws(() => rateLimiter({ rate: 1 }).tryTake({} as never), {
    code: 'LEASH_ERR_INVALID_ARG',
    message: 'rateLimiter(options).tryTake(key): key must be a string or omitted, got an object',
  });
});

// 7. hedge's two forms.

test('hedge: mixing { afterMs } with percentile or minSamples is refused, naming both forms', () => {
  const forms =
    'give { afterMs } (a fixed delay) or { percentile, minSamples? } (a percentile of recent latency)';
  assert.throws(() => hedge({ afterMs: 10, minSamples: 5 } as never), {
    code: 'LEASH_ERR_INVALID_ARG',
    message: `hedge(options): afterMs cannot be mixed with minSamples; ${forms}, not a mix`,
  });
  assert.throws(() => hedge({ afterMs: 10, percentile: 0.9 } as never), {
    code: 'LEASH_ERR_INVALID_ARG',
    message: `hedge(options): afterMs cannot be mixed with percentile; ${forms}, not a mix`,
  });
  assert.throws(() => hedge({ minSamples: 5 } as never), {
    code: 'LEASH_ERR_INVALID_ARG',
    message: `hedge(options): options must have afterMs or percentile (minSamples goes with percentile); ${forms}`,
  });
});

// 8. shedLoad's context and isShed.

test("shedLoad: a context option that returns no Context goes to next(err) with a coded error naming shedLoad's context", async () => {
  const shed = shedLoad(bulkhead({ limit: 1 }), { context: () => 42 as never });
  const seen: unknown[] = [];
  assert.doesNotThrow(() =>
    shed({} as http.IncomingMessage, { headersSent: false } as http.ServerResponse, (err) => {
      seen.push(err);
    }),
  );
  assert.equal(seen.length, 1);
  invalid(
    seen[0],
    "shedLoad(policy, options): options.context(req) must return a Context (such as leashjs/http's req.ctx), got the number 42; the request did not run. Fix the context option; what it threw, if anything, is this error's cause",
  );
});

test('shedLoad: a context that throws, in a plain node:http handler, answers 500 and emits the error as a warning', async () => {
  const bug = new Error('no ctx');
  const shed = shedLoad(bulkhead({ limit: 1 }), {
    context: () => {
      throw bug;
    },
  });
  let handled = 0;
  const srv = await serve((req, res) =>
    shed(req, res, () => {
      handled++;
      res.end('ok');
    }),
  );
  try {
    const seen = await watchProcess(async () => {
      const r = await fetch(srv.url);
      assert.equal(r.status, 500);
      assert.equal(await r.text(), 'Internal Server Error\n');
    });
    assert.equal(handled, 0, 'the handler never ran outside the policy');
    assert.equal(seen.warnings.length, 1);
    invalid(seen.warnings[0], /^shedLoad\(policy, options\): options\.context\(req\) threw Error: "no ctx"/);
    assert.equal((seen.warnings[0] as { cause?: unknown }).cause, bug);
    assert.equal((await fetch(srv.url)).status, 500, 'the server is still up');
  } finally {
    await srv.close();
  }
});

test('shedLoad: a plain node:http handler that throws at once answers 500 (it hung), warns, frees its permit and counts as a failure', async () => {
  const bug = new Error('handler bug');
  const breaker = circuitBreaker({ window: { calls: 2 }, minimumCalls: 2, failureRate: 1 });
  const shed = shedLoad(wrap(bulkhead({ limit: 1 }), breaker));
  let handled = 0;
  const srv = await serve((req, res) =>
    shed(req, res, () => {
      handled++;
      throw bug;
    }),
  );
  try {
    const seen = await watchProcess(async () => {
      for (let i = 0; i < 2; i++) {
        const r = await fetch(srv.url, { signal: AbortSignal.timeout(2_000) });
        assert.equal(r.status, 500);
        assert.equal(await r.text(), 'Internal Server Error\n');
      }
    });
    assert.equal(handled, 2, 'the second request got the permit the first one freed');
    assert.deepEqual(seen.warnings, [bug, bug]);
    assert.equal(breaker.state, 'open', 'both calls were counted as failures');
  } finally {
    await srv.close();
  }
});

test('shedLoad: an isShed that throws goes to next(err) with a coded error whose cause is the policy error, no unhandled rejection', async () => {
  const full = new Error('full');
  const shed = shedLoad(
    { execute: () => Promise.reject(full) },
    {
      isShed: () => {
        throw new Error('oops');
      },
    },
  );
  const seen: unknown[] = [];
  const proc = await watchProcess(async () => {
    await new Promise<void>((resolve) => {
      shed({} as http.IncomingMessage, { headersSent: false } as http.ServerResponse, (err) => {
        seen.push(err);
        resolve();
      });
    });
  });
  assert.deepEqual(proc.unhandled, []);
  invalid(
    seen[0],
    /^shedLoad\(policy, options\): options\.isShed\(err\) threw Error: "oops"; the request did not run/,
  );
  assert.equal((seen[0] as { cause?: unknown }).cause, full);
});
