import type { Rule } from 'eslint';
import type * as ESTree from 'estree';
import { contextParamsOf, type FunctionNode, isFunctionNode, parentOf } from '../context-detection.js';
import { findVariable, leashNameOf, mentionsAny } from '../leash-imports.js';

/** How a function holds its context: the expression to write instead of background(). */
interface HeldContext {
  text: string;
  /** The variable whose name `text` starts with, to check it is not shadowed at the call. */
  root: string;
}

/**
 * no-background-in-request reports `background()` and `todo()` inside a function that already
 * has a context: a `ctx` parameter (or one typed Context), `req.ctx` read from a parameter, or
 * `contextOf(req)` / `currentContext()` in the function. A root context there cuts the work off
 * from the caller's cancellation and deadline: the client leaves, the deadline passes, and the
 * query or task started from background() carries on (the background article's incident: a
 * handler that queried with `context.Background()`).
 */
export const noBackgroundInRequest: Rule.RuleModule = {
  meta: {
    type: 'problem',
    docs: {
      description: 'Disallow background()/todo() where a request or caller context is already available',
      recommended: true,
    },
    hasSuggestions: true,
    schema: [],
    messages: {
      background:
        "{{call}}() inside a function that already has a context ({{ctx}}): the work is cut off from the caller's cancellation and deadline. Pass {{ctx}} (or withoutCancel({{ctx}}) for work that must outlive it).",
      useCtx: 'Use {{ctx}} instead.',
    },
  },
  create(context) {
    if (!mentionsAny(context.sourceCode.text, ['background', 'todo'])) return {};
    const held = new Map<ESTree.Node, HeldContext>();
    const calls: Array<{ node: ESTree.CallExpression; name: string }> = [];

    function hold(fn: ESTree.Node | undefined, h: HeldContext): void {
      if (fn && !held.has(fn)) held.set(fn, h);
    }

    function functionOfParam(id: ESTree.Identifier): ESTree.Node | undefined {
      const v = findVariable(context, id, id.name);
      const def = v?.defs[0];
      return def?.type === 'Parameter' ? def.node : undefined;
    }

    function nearestFunction(node: ESTree.Node): ESTree.Node | undefined {
      let p = parentOf(node);
      while (p && !isFunctionNode(p)) p = parentOf(p);
      return p ?? undefined;
    }

    /** Parameters' `.ctx` reads and contextOf/currentContext calls, resolved only if a background() call exists. */
    const ctxReads: ESTree.MemberExpression[] = [];
    const ctxCalls: Array<{ node: ESTree.CallExpression; name: string }> = [];

    function resolveHolders(): void {
      for (const node of ctxReads) {
        const obj = node.object as ESTree.Identifier;
        const fn = functionOfParam(obj);
        if (fn) hold(fn, { text: `${obj.name}.ctx`, root: obj.name });
      }
      for (const { node, name } of ctxCalls) {
        const parent = parentOf(node);
        const fn = nearestFunction(node);
        if (parent?.type === 'VariableDeclarator' && parent.id.type === 'Identifier') {
          hold(fn, { text: parent.id.name, root: parent.id.name });
        } else {
          hold(fn, { text: `${name}(…)`, root: '' });
        }
      }
    }

    /** A function's own context parameter, looked up when a background() call needs it. */
    function heldBy(fn: ESTree.Node): HeldContext | undefined {
      const h = held.get(fn);
      if (h) return h;
      const params = contextParamsOf(context, fn as FunctionNode);
      if (!params[0]) return undefined;
      const p = { text: params[0].name, root: params[0].name };
      held.set(fn, p);
      return p;
    }

    return {
      MemberExpression(node) {
        // req.ctx (or any parameter's .ctx): the framework adapter's per-request context.
        if (node.computed || node.property.type !== 'Identifier' || node.property.name !== 'ctx') return;
        if (node.object.type === 'Identifier') ctxReads.push(node);
      },
      CallExpression(node) {
        const name = leashNameOf(context, node.callee);
        if (name === 'background' || name === 'todo') calls.push({ node, name });
        else if (name === 'contextOf' || name === 'currentContext') ctxCalls.push({ node, name });
      },
      'Program:exit'() {
        if (calls.length === 0) return;
        resolveHolders();
        for (const { node, name } of calls) {
          let fn = nearestFunction(node);
          while (fn) {
            const h = heldBy(fn);
            if (h) {
              // The name must mean the same thing at the call (not shadowed by an inner binding).
              const def = h.root === '' ? undefined : findVariable(context, node, h.root)?.defs[0];
              const usable =
                def !== undefined &&
                def.node === findVariable(context, fn, h.root)?.defs[0]?.node &&
                (def.type === 'Parameter' || (def.node.range?.[1] ?? 0) <= (node.range?.[0] ?? 0));
              context.report({
                node,
                messageId: 'background',
                data: { call: name, ctx: h.text },
                suggest: usable
                  ? [
                      {
                        messageId: 'useCtx',
                        data: { ctx: h.text },
                        fix: (fixer) => fixer.replaceText(node, h.text),
                      },
                    ]
                  : [],
              });
              break;
            }
            fn = nearestFunction(fn);
          }
        }
      },
    };
  },
};
