import type { Rule, Scope } from 'eslint';
import type * as ESTree from 'estree';
import { contextParamsOf, type FunctionNode, isFunctionNode, parentOf } from '../context-detection.js';
import { bindingOf, findVariable, isBackgroundCall, leashNameOf } from '../leash-imports.js';

const LISTEN_METHODS = new Set([
  'on',
  'once',
  'addListener',
  'addEventListener',
  'prependListener',
  'prependOnceListener',
]);
const HTTP_METHODS = new Set([
  'get',
  'post',
  'put',
  'patch',
  'delete',
  'del',
  'all',
  'use',
  'head',
  'options',
  'route',
]);
/** Leash operations that block until their context ends (no duration of their own). */
const BLOCKING_METHODS = new Set(['recv', 'send', 'range', 'wait']);
const BLOCKING_FUNCTIONS = new Set(['select', 'abortable']);

function unwrap(node: ESTree.Node): ESTree.Node {
  let n = node as ESTree.Node & { expression?: ESTree.Node };
  while ((n.type as string) === 'TSAsExpression' || (n.type as string) === 'TSNonNullExpression') {
    n = n.expression as ESTree.Node & { expression?: ESTree.Node };
  }
  return n;
}

function calleeName(call: ESTree.CallExpression): string | undefined {
  const c = call.callee;
  if (c.type === 'Identifier') return c.name;
  if (c.type === 'MemberExpression' && !c.computed && c.property.type === 'Identifier')
    return c.property.name;
  return undefined;
}

/**
 * unbounded-wait reports waits that no deadline can release, inside a request handler or a task
 * (where a client or a parent is waiting for this work to end):
 * - `await once(emitter, 'event')` without `{ signal }`: if the event never comes, the handler
 *   never returns;
 * - `await new Promise(...)` whose resolve and reject are only ever handed to event listeners;
 * - a leash wait (`ch.recv`, `ch.send`, `ch.range`, `select`, `abortable`) given a context with no
 *   deadline and no cancel: `background()`, `todo()`, or the ctx of a task started from one
 *   (the background article's first example: a goroutine blocked on a channel nobody sends on).
 * A `new Promise` whose executor never uses resolve or reject can never settle: reported anywhere.
 */
export const unboundedWait: Rule.RuleModule = {
  meta: {
    type: 'problem',
    docs: {
      description:
        'Disallow waits that no deadline or cancellation can release in request handlers and tasks',
      recommended: true,
    },
    hasSuggestions: true,
    schema: [],
    messages: {
      once: "await once(...) has no deadline: if '{{event}}' never comes, this request or task waits forever. Pass { signal: ctx.signal } so that the context's end releases it.",
      listener:
        'This promise only settles from an event listener, and nothing bounds the wait: if the event never comes, this request or task waits forever (and the listener stays). Use abortable(ctx, promise) and remove the listener when ctx ends.',
      background:
        "{{op}} is given {{what}}, a context with no deadline and no cancel: nothing can release this wait. Pass the caller's ctx or a withTimeout child of it.",
      never:
        'This promise can never settle: its executor never uses resolve or reject. Whoever awaits it waits forever.',
      addSignal: 'Add { signal: {{ctx}}.signal }.',
    },
  },
  create(context) {
    const sourceCode = context.sourceCode;
    if (!sourceCode.text.includes('Promise') && !sourceCode.text.includes('await')) return {};

    /** isRequestOrTask: a function that runs for a request or as a task. */
    function isRequestOrTask(fn: FunctionNode): boolean {
      if (contextParamsOf(context, fn).length > 0) return true;
      for (const p of fn.params) {
        if (p.type === 'Identifier' && (p.name === 'req' || p.name === 'request')) return true;
      }
      const parent = parentOf(fn);
      if (parent?.type === 'CallExpression' && parent.arguments.includes(fn as ESTree.Expression)) {
        const name = leashNameOf(context, parent.callee);
        if (name === 'go') return true;
        const c = parent.callee;
        if (c.type === 'MemberExpression' && !c.computed && c.property.type === 'Identifier') {
          if (
            c.property.name === 'go' ||
            HTTP_METHODS.has(c.property.name) ||
            c.property.name === 'createServer'
          )
            return true;
        }
        if (
          c.type === 'Identifier' &&
          (c.name === 'createServer' || c.name === 'withContext' || c.name === 'serve')
        )
          return true;
      }
      return false;
    }

    function inRequestOrTask(node: ESTree.Node): FunctionNode | undefined {
      let p = parentOf(node);
      while (p) {
        if (isFunctionNode(p) && isRequestOrTask(p)) return p;
        p = parentOf(p);
      }
      return undefined;
    }

    function firstCtxName(node: ESTree.Node): string | undefined {
      let p = parentOf(node);
      while (p) {
        if (isFunctionNode(p)) {
          const params = contextParamsOf(context, p);
          if (params[0]) return params[0].name;
        }
        p = parentOf(p);
      }
      return undefined;
    }

    /** A variable holding a context that never ends: `= background()`, or the ctx of a task started on one. */
    function isUnboundedContext(node: ESTree.Node): { what: string; task: boolean } | undefined {
      const n = unwrap(node);
      if (isBackgroundCall(context, n)) return { what: sourceCode.getText(n), task: false };
      if (n.type !== 'Identifier') return undefined;
      const v = findVariable(context, n, n.name);
      const def = v?.defs[0];
      if (!def) return undefined;
      if (def.type === 'Variable') {
        const d = def.node as ESTree.VariableDeclarator;
        if (d.id.type === 'Identifier' && isBackgroundCall(context, d.init))
          return { what: `'${n.name}' (background())`, task: false };
        return undefined;
      }
      if (def.type === 'Parameter') {
        const fn = def.node as ESTree.Node;
        if (!isFunctionNode(fn) || fn.params[0] !== def.name) return undefined;
        const spawn = parentOf(fn);
        if (spawn?.type !== 'CallExpression' || spawn.arguments[1] !== fn) return undefined;
        if (leashNameOf(context, spawn.callee) !== 'go') return undefined;
        const parentCtx = spawn.arguments[0];
        if (parentCtx && isUnboundedContext(parentCtx))
          return { what: `'${n.name}', the context of a task started on background()`, task: true };
      }
      return undefined;
    }

    /** A listener registration: x.on(...), x.once(...), x.addEventListener(...). */
    function isListenerCall(node: ESTree.Node | null): node is ESTree.CallExpression {
      if (node?.type !== 'CallExpression') return false;
      const c = node.callee;
      return (
        c.type === 'MemberExpression' &&
        !c.computed &&
        c.property.type === 'Identifier' &&
        LISTEN_METHODS.has(c.property.name)
      );
    }

    /** The settle functions are only used inside listener registrations (directly or from the listener). */
    function onlyFromListeners(executor: FunctionNode, settle: Scope.Variable[]): boolean {
      let any = false;
      for (const v of settle) {
        for (const ref of v.references) {
          any = true;
          let p: ESTree.Node | null = parentOf(ref.identifier as ESTree.Identifier);
          let inListener = false;
          while (p && p !== executor) {
            if (isListenerCall(p)) {
              inListener = true;
              break;
            }
            p = parentOf(p);
          }
          if (!inListener) return false;
        }
      }
      return any;
    }

    function settleVariables(executor: FunctionNode): Scope.Variable[] {
      const scope = sourceCode.getScope(executor);
      const out: Scope.Variable[] = [];
      for (const p of executor.params) {
        if (p.type !== 'Identifier') continue;
        const v = scope.set.get(p.name);
        if (v) out.push(v);
      }
      return out;
    }

    function usesArguments(executor: FunctionNode): boolean {
      return (
        executor.type !== 'ArrowFunctionExpression' &&
        (sourceCode.getScope(executor).set.get('arguments')?.references.length ?? 0) > 0
      );
    }

    function checkAwaited(arg: ESTree.Node, awaitNode: ESTree.Node): void {
      const e = unwrap(arg);
      if (e.type === 'CallExpression') {
        const name = calleeName(e);
        if (name === 'once' && isEventsOnce(e)) {
          if (!inRequestOrTask(awaitNode) || hasSignalOption(e.arguments[2])) return;
          const ctx = firstCtxName(awaitNode);
          const ev = e.arguments[1];
          const suggest: Rule.SuggestionReportDescriptor[] =
            ctx && e.arguments.length === 2 && ev
              ? [
                  {
                    messageId: 'addSignal',
                    data: { ctx },
                    fix: (f) => f.insertTextAfter(ev, `, { signal: ${ctx}.signal }`),
                  },
                ]
              : [];
          context.report({
            node: e,
            messageId: 'once',
            data: { event: ev?.type === 'Literal' ? String(ev.value) : 'the event' },
            suggest,
          });
          return;
        }
        return;
      }
      if (e.type === 'NewExpression' && e.callee.type === 'Identifier' && e.callee.name === 'Promise') {
        const executor = e.arguments[0];
        if (!executor || !isFunctionNode(executor)) return;
        const settle = settleVariables(executor);
        if (settle.length === 0 || usesArguments(executor)) return;
        if (!onlyFromListeners(executor, settle)) return;
        if (!inRequestOrTask(awaitNode)) return;
        context.report({ node: e, messageId: 'listener' });
      }
    }

    function isEventsOnce(call: ESTree.CallExpression): boolean {
      const c = call.callee;
      const isEvents = (src: unknown) => src === 'events' || src === 'node:events';
      if (c.type === 'Identifier') {
        const v = findVariable(context, c, c.name);
        const def = v?.defs[0];
        if (def?.type === 'ImportBinding')
          return isEvents((def.parent as ESTree.ImportDeclaration).source.value);
        return false;
      }
      if (c.type === 'MemberExpression' && c.object.type === 'Identifier') {
        if (c.object.name === 'EventEmitter' || c.object.name === 'events') return true;
        const b = bindingOf(context, c.object);
        return b.kind === 'other' && isEvents(importSourceOf(c.object));
      }
      return false;
    }

    function importSourceOf(id: ESTree.Identifier): unknown {
      const def = findVariable(context, id, id.name)?.defs[0];
      return def?.type === 'ImportBinding'
        ? (def.parent as ESTree.ImportDeclaration).source.value
        : undefined;
    }

    function hasSignalOption(opt: ESTree.Node | undefined): boolean {
      if (!opt) return false;
      if (opt.type !== 'ObjectExpression') return true; // an options variable: assume it may carry a signal
      return opt.properties.some(
        (p) =>
          p.type === 'SpreadElement' ||
          (p.type === 'Property' && !p.computed && p.key.type === 'Identifier' && p.key.name === 'signal'),
      );
    }

    function checkLeashWait(call: ESTree.CallExpression): void {
      const c = call.callee;
      let op: string | undefined;
      if (c.type === 'MemberExpression' && !c.computed && c.property.type === 'Identifier') {
        if (BLOCKING_METHODS.has(c.property.name) && leashNameOf(context, c) === undefined) {
          op = `${sourceCode.getText(c)}()`;
        } else {
          const n = leashNameOf(context, c);
          if (n && BLOCKING_FUNCTIONS.has(n)) op = `${n}()`;
        }
      } else if (c.type === 'Identifier') {
        const n = leashNameOf(context, c);
        if (n && BLOCKING_FUNCTIONS.has(n)) op = `${n}()`;
      }
      if (!op) return;
      const first = call.arguments[0];
      if (!first || first.type === 'SpreadElement') return;
      const unbounded = isUnboundedContext(first);
      if (!unbounded) return;
      // A task's own ctx from a background() parent is, by definition, inside a task; background()
      // itself (or a variable holding it) only matters where a request or task waits.
      if (!unbounded.task && !inRequestOrTask(call)) return;
      context.report({ node: call, messageId: 'background', data: { op, what: unbounded.what } });
    }

    return {
      AwaitExpression(node) {
        checkAwaited(node.argument, node);
      },
      CallExpression: checkLeashWait,
      NewExpression(node) {
        if (node.callee.type !== 'Identifier' || node.callee.name !== 'Promise') return;
        if (findVariable(context, node.callee, 'Promise')?.defs.length) return;
        const executor = node.arguments[0];
        if (!executor || !isFunctionNode(executor) || usesArguments(executor)) return;
        const settle = settleVariables(executor);
        const hasRest = executor.params.some((p) => p.type !== 'Identifier');
        if (hasRest) return;
        if (settle.every((v) => v.references.length === 0)) context.report({ node, messageId: 'never' });
      },
    };
  },
};
