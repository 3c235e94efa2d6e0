import { jsTester, tsTester } from '../test-support/rule-tester.js';
import { lostCancel } from './lost-cancel.js';

const imp =
  "import { background, withCancel, withCancelCause, withTimeout, withDeadline, fromSignal } from 'leashjs';\nconst bg = background();\n";

function err(line: number, exit: string, cancel = 'cancel', producer = 'withCancel') {
  return {
    message: `The cancel function '${cancel}' from ${producer} is not used on all paths (possible context leak): ${exit} is reachable without calling, returning, storing or passing it.`,
    line: line + 2,
  };
}

jsTester.run('lost-cancel', lostCancel, {
  valid: [
    // Go: defer cancel() — here try/finally.
    `${imp}async function f() {
  const [ctx, cancel] = withCancel(bg);
  try { await work(ctx); } finally { cancel(); }
}`,
    // Returned: the caller owns it (Go issue 198).
    `${imp}function f() {
  const [ctx, cancel] = withCancel(bg);
  return cancel;
}`,
    // Returned as a pair.
    `${imp}function f() { return withTimeout(bg, 10); }`,
    `${imp}function f() { const pair = withTimeout(bg, 10); return pair; }`,
    // Stored on an object.
    `${imp}class S { start() { const [ctx, cancel] = withCancel(bg); this.stop = cancel; this.ctx = ctx; } }`,
    `${imp}class S { start() { [this.ctx, this.stop] = withCancel(bg); } }`,
    // Passed to a call.
    `${imp}function f(cleanups) { const [ctx, cancel] = withCancel(bg); cleanups.push(cancel); return ctx; }`,
    // Bound with using.
    `${imp}async function f() { const [ctx, cancel] = withTimeout(bg, 5); using _ = cancel; await work(ctx); }`,
    // Used inside a closure (Go: defer func() { cancel() }()).
    `${imp}function f(server) { const [ctx, cancel] = withCancel(bg); server.on('close', () => cancel()); return ctx; }`,
    // Used on both branches.
    `${imp}function f(c) { const [ctx, cancel] = withCancel(bg); if (c) { cancel(); } else { cancel(); } }`,
    // Go: the other branch is an infinite loop — no path reaches the exit.
    `${imp}function f(c) { const [ctx, cancel] = withCancel(bg); if (c) { cancel(); } else { for (;;) { print(0); } } }`,
    // Go: os.Exit / log.Fatal on a case — process.exit() ends the process.
    `${imp}function f(n) {
  const [, cancel] = withCancel(bg);
  switch (n) {
    case 1: process.exit(1);
    case 2: cancel(); break;
    default: process.exit(2);
  }
}`,
    // Go issue 31856: assigned inside a closure to a variable of the enclosing function.
    `${imp}function f() {
  let cancel;
  (() => { [, cancel] = withCancel(bg); })();
  cancel();
}`,
    // Early return after the cancel is deferred by try/finally.
    `${imp}async function f(x) {
  const [ctx, cancel] = withTimeout(bg, 100);
  try {
    if (!x) return 'none';
    if (x < 0) throw new Error('negative');
    return await work(ctx, x);
  } finally {
    cancel();
  }
}`,
    // Aliased import, cancel called.
    `import { background as bgf, withTimeout as wt } from 'leashjs';
function f() { const [ctx, stop] = wt(bgf(), 1); stop(); }`,
    // Namespace import, cancel called.
    `import * as leash from 'leashjs';
function f() { const [ctx, stop] = leash.withDeadline(leash.background(), Date.now()); stop(); }`,
    // Not leash: a local withCancel, or one from another module, is not checked.
    `function withCancel() { return [1, 2]; } function f() { const [a] = withCancel(); }`,
    `import { withCancel } from 'other-lib'; function f() { const [a] = withCancel(); }`,
    // signalContext from leashjs/task.
    `import { signalContext } from 'leashjs/task'; import { background } from 'leashjs';
async function main() { const [ctx, stop] = signalContext(background(), ['SIGTERM']); try { await run(ctx); } finally { stop(); } }`,
    // The article: ctx, cancel := WithCancel; go safeRoutine(ctx); sleep; cancel().
    `${imp}import { go } from 'leashjs/task';
async function main() { const [ctx, cancel] = withCancel(bg); go(ctx, safeRoutine); await sleep(bg, 3000); cancel(); }`,
    // A loop that cancels every iteration.
    `${imp}async function f(items) { for (const i of items) { const [ctx, cancel] = withTimeout(bg, 10); try { await work(ctx, i); } finally { cancel(); } } }`,
    // Top-level code runs once: the program's root context (Go checks function bodies only).
    "import { signalContext } from 'leashjs/task'; import { background } from 'leashjs';\nconst [stop] = signalContext(background(), ['SIGTERM']);",
    // Module level, used from a hoisted function.
    `${imp}const [shutdown, stop] = withCancel(bg); export function close() { stop(); }`,
    // afterFunc-style hand-off.
    `${imp}function f(parent) { const [ctx, cancel] = fromSignal(parent, signal); afterFunc(other, cancel); return ctx; }`,
  ],
  invalid: [
    // Go: var _, cancel = context.WithCancel(bg); if false { _ = cancel }
    {
      code: `${imp}function f() {
  const [, cancel] = withCancel(bg);
  if (false) { void cancel; }
}`,
      errors: [{ ...err(2, 'the end of the function'), suggestions: 1 }],
    },
    // Go: cancel3 declared first, assigned later.
    {
      code: `${imp}function f() {
  let cancel3;
  [, cancel3] = withTimeout(bg, 0);
  if (false) { cancel3(); }
}`,
      errors: [err(3, 'the end of the function', 'cancel3', 'withTimeout')],
    },
    // Go: ctx, _ := context.WithCancel(bg) — the cancel is discarded.
    {
      code: `${imp}function f() { const [ctx] = withCancel(bg); return ctx; }`,
      errors: [
        {
          messageId: 'discarded',
          suggestions: [
            {
              messageId: 'keepAndUse',
              output: `${imp}function f() { const [ctx, cancel] = withCancel(bg);
               using _ = cancel; return ctx; }`,
            },
          ],
        },
      ],
    },
    {
      code: `${imp}function f() { withTimeout(bg, 5); const ctx = withDeadline(bg, 1)[0]; }`,
      errors: [{ messageId: 'discarded' }, { messageId: 'discarded' }],
    },
    // Go: if condition { cancel() }; return
    {
      code: `${imp}function f(condition) {
  const [, cancel] = withCancel(bg);
  if (condition) {
    cancel();
  }
  return;
}`,
      errors: [{ ...err(2, 'the return on line 8'), suggestions: 1 }],
    },
    // Go: the else branch is a finite loop, then the implicit return.
    {
      code: `${imp}function f(condition) {
  const [, cancel] = withCancel(bg);
  if (condition) {
    cancel();
  } else {
    for (let i = 0; i < 10; i++) print(0);
  }
}`,
      errors: [{ ...err(2, 'the end of the function'), suggestions: 1 }],
    },
    // Go: a case that falls through to the implicit return.
    {
      code: `${imp}function f(n) {
  const [, cancel] = withCancel(bg);
  switch (n) {
    case 1: process.exit(1);
    case 2: cancel(); break;
    case 3: print('hi'); break;
    default: process.exit(2);
  }
}`,
      errors: [{ ...err(2, 'the end of the function'), suggestions: 1 }],
    },
    // Go: inside a func literal run as a goroutine.
    {
      code: `${imp}function f() {
  go(bg, async () => {
    const [ctx, cancel] = withCancel(bg);
    if (false) { cancel(); }
    print(ctx);
  });
}`,
      errors: [{ ...err(3, 'the end of the function'), suggestions: 1 }],
    },
    // An early return before the cancel (the article's WithTimeout request).
    {
      code: `${imp}async function handle(req) {
  const [ctx, cancel] = withTimeout(bg, 100);
  if (!req.ok) return 'bad request';
  const r = await query(ctx, req);
  cancel();
  return r;
}`,
      errors: [{ ...err(2, 'the return on line 5', 'cancel', 'withTimeout'), suggestions: 1 }],
    },
    // A throw before the cancel.
    {
      code: `${imp}function f(x) {
  const [ctx, cancel] = withCancelCause(bg);
  if (x < 0) throw new Error('negative');
  cancel(new Error('done'));
}`,
      errors: [{ ...err(2, 'the throw on line 5', 'cancel', 'withCancelCause'), suggestions: 1 }],
    },
    // Never used at all.
    {
      code: `${imp}async function f() {
  const [ctx, cancel] = fromSignal(bg, signal);
  await work(ctx);
}`,
      errors: [
        {
          ...err(2, 'the end of the function', 'cancel', 'fromSignal'),
          suggestions: [
            {
              messageId: 'bindWithUsing',
              output: `${imp}async function f() {
  const [ctx, cancel] = fromSignal(bg, signal);
  using _ = cancel;
  await work(ctx);
}`,
            },
          ],
        },
      ],
    },
    // Cancelled only inside the loop body, which may run zero times.
    {
      code: `${imp}function f(items) {
  const [ctx, cancel] = withCancel(bg);
  for (const i of items) { if (i) { cancel(); break; } }
}`,
      errors: [{ ...err(2, 'the end of the function'), suggestions: 1 }],
    },
    // Alias and namespace imports are recognised.
    {
      code: `import * as leash from 'leashjs';
function f() { const [ctx] = leash.withTimeout(leash.background(), 1); return ctx; }`,
      errors: [{ messageId: 'discarded', suggestions: 1 }],
    },
    {
      code: `const { withCancel: wc, background } = require('leashjs');
function f() { const [ctx, stop] = wc(background()); return ctx; }`,
      errors: [{ messageId: 'notOnAllPaths', suggestions: 1 }],
    },
    // A top-level loop derives one per turn.
    {
      code: `${imp}for (const id of ids) { const [ctx] = withTimeout(bg, 10); run(ctx, id); }`,
      errors: [{ messageId: 'discarded', suggestions: 1 }],
    },
    // signalContext from leashjs/task.
    {
      code: `import { signalContext } from 'leashjs/task';
function f(bg) { const [ctx] = signalContext(bg, ['SIGINT']); return ctx; }`,
      errors: [{ messageId: 'discarded', suggestions: 1 }],
    },
  ],
});

tsTester.run('lost-cancel (TypeScript)', lostCancel, {
  valid: [
    `import { withCancel, type Context } from 'leashjs';
export function f(parent: Context): Context { const [ctx, cancel] = withCancel(parent); cancel(); return ctx; }`,
  ],
  invalid: [
    {
      code: `import { withTimeout, type Context } from 'leashjs';
export async function f(parent: Context): Promise<void> {
  const [ctx, cancel] = withTimeout(parent, 10);
  if (!parent) return;
  await work(ctx);
  cancel();
}`,
      errors: [{ messageId: 'notOnAllPaths', line: 3, suggestions: 1 }],
    },
  ],
});
