// Property tests (fast-check) over random context trees with random cancels and deadlines, checked
// against a small model of Go's rules:
// - a context is done iff it or an ancestor (up to a withoutCancel) was cancelled or expired;
// - the first cancellation wins;
// - a child cancelled first keeps its own cause, one cancelled through its parent takes the
//   parent's err and cause;
// - every cancel context's child set is empty once its children are done.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CancelCtx } from './cancel-tree.js';
import {
  background,
  type Context,
  cause,
  createKey,
  withCancel,
  withCancelCause,
  withDeadlineCause,
  withoutCancel,
  withTimeout,
  withValue,
} from './index.js';
import { childCount } from './test-support/inspect.js';

type Kind = 'cancel' | 'cancelCause' | 'pastDeadline' | 'farDeadline' | 'value' | 'withoutCancel';

interface ModelNode {
  ctx: Context;
  parent: number; // -1 for the root (background)
  kind: Kind;
  cancel?: (why?: unknown) => void;
  done: boolean;
  err?: Error;
  cause?: unknown;
}

const key = createKey<number>('k');

const opArb = fc.oneof(
  fc.record({
    op: fc.constant('derive' as const),
    parent: fc.nat(),
    kind: fc.constantFrom<Kind>(
      'cancel',
      'cancelCause',
      'pastDeadline',
      'farDeadline',
      'value',
      'withoutCancel',
    ),
  }),
  fc.record({ op: fc.constant('cancel' as const), node: fc.nat(), withCause: fc.boolean() }),
);

test('property: random trees with random cancels obey the cancel, cause and unlink rules', () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
      const nodes: ModelNode[] = [];
      const parentOf = (i: number): Context => (i < 0 ? background() : (nodes[i] as ModelNode).ctx);
      // The model: propagate done-ness down to descendants that are not done, stopping at withoutCancel.
      const finish = (i: number, err: Error, why: unknown): void => {
        const n = nodes[i] as ModelNode;
        if (n.done) return;
        n.done = true;
        n.err = err;
        n.cause = why;
        nodes.forEach((c, j) => {
          if (c.parent === i && c.kind !== 'withoutCancel') finish(j, err, why);
        });
      };
      let causeSeq = 0;
      for (const step of ops) {
        if (step.op === 'derive') {
          const p = nodes.length === 0 ? -1 : (step.parent % (nodes.length + 1)) - 1;
          const parent = parentOf(p);
          const parentModel = p < 0 ? undefined : (nodes[p] as ModelNode);
          let node: ModelNode;
          const deadlineCause = new Error(`deadline ${nodes.length}`);
          switch (step.kind) {
            case 'cancel': {
              const [ctx, cancel] = withCancel(parent);
              node = { ctx, parent: p, kind: step.kind, cancel, done: false };
              break;
            }
            case 'cancelCause': {
              const [ctx, cancel] = withCancelCause(parent);
              node = { ctx, parent: p, kind: step.kind, cancel, done: false };
              break;
            }
            case 'pastDeadline': {
              const [ctx, cancel] = withDeadlineCause(parent, Date.now() - 1, deadlineCause);
              node = { ctx, parent: p, kind: step.kind, cancel, done: false };
              break;
            }
            case 'farDeadline': {
              const [ctx, cancel] = withTimeout(parent, 1e9);
              node = { ctx, parent: p, kind: step.kind, cancel, done: false };
              break;
            }
            case 'value':
              node = { ctx: withValue(parent, key, nodes.length), parent: p, kind: step.kind, done: false };
              break;
            case 'withoutCancel':
              node = { ctx: withoutCancel(parent), parent: p, kind: step.kind, done: false };
              break;
          }
          nodes.push(node);
          const i = nodes.length - 1;
          if (parentModel?.done && step.kind !== 'withoutCancel') {
            finish(i, parentModel.err as Error, parentModel.cause);
          } else if (step.kind === 'pastDeadline') {
            finish(i, node.ctx.err as Error, deadlineCause);
            assert.equal(node.ctx.err?.name, 'TimeoutError');
          }
        } else if (nodes.length > 0) {
          const i = step.node % nodes.length;
          const n = nodes[i] as ModelNode;
          if (n.cancel) {
            const why =
              step.withCause && n.kind === 'cancelCause' ? new Error(`cause ${causeSeq++}`) : undefined;
            const errBefore = n.ctx.err;
            n.cancel(why);
            if (!n.done) {
              assert.ok(n.ctx.err !== undefined && errBefore === undefined);
              finish(i, n.ctx.err as Error, why ?? n.ctx.err);
            }
          }
        }
        // Check every node against the model after every step.
        for (const n of nodes) {
          assert.equal(n.ctx.err !== undefined, n.done, `${n.ctx} done`);
          if (n.done) {
            assert.equal(n.ctx.err, n.err);
            assert.equal(cause(n.ctx), n.cause);
          } else assert.equal(cause(n.ctx), undefined);
          if (n.ctx instanceof CancelCtx) {
            // Links held: exactly the live cancel-context children that hang off this node directly
            // or through value contexts.
            const live = nodes.filter((c, j) => {
              if (c.done || !(c.ctx instanceof CancelCtx)) return false;
              let a = c.parent;
              while (a >= 0 && (nodes[a] as ModelNode).kind === 'value') a = (nodes[a] as ModelNode).parent;
              return a >= 0 && nodes[a] === n && j !== a;
            }).length;
            assert.equal(childCount(n.ctx), n.done ? 0 : live);
          }
        }
      }
      for (const n of nodes) n.cancel?.();
    }),
    { numRuns: 300 },
  );
});
