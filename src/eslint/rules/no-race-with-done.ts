import type { Rule, SourceCode } from 'eslint';
import type * as ESTree from 'estree';
import { enclosingFunction, isContextExpression, isFunctionNode, parentOf } from '../context-detection.js';
import { findVariable, isLeashSource } from '../leash-imports.js';

type Finding =
  | { kind: 'done'; ctx: ESTree.Node }
  | { kind: 'signal'; ctx: ESTree.Node | undefined }
  | { kind: 'longLived'; name: string };

function unwrap(node: ESTree.Node): ESTree.Node {
  let n = node as ESTree.Node & { expression?: ESTree.Node };
  while ((n.type as string) === 'TSAsExpression' || (n.type as string) === 'TSNonNullExpression') {
    n = n.expression as ESTree.Node & { expression?: ESTree.Node };
  }
  return n;
}

/** Visits every node below `root` (nested functions included). */
function walk(
  sourceCode: SourceCode,
  root: ESTree.Node,
  visit: (n: ESTree.Node) => boolean | undefined,
): boolean {
  const keys = sourceCode.visitorKeys[root.type] ?? [];
  if (visit(root)) return true;
  for (const k of keys) {
    const child = (root as unknown as Record<string, unknown>)[k];
    if (Array.isArray(child)) {
      for (const c of child)
        if (c && typeof c === 'object' && walk(sourceCode, c as ESTree.Node, visit)) return true;
    } else if (child && typeof child === 'object' && walk(sourceCode, child as ESTree.Node, visit)) {
      return true;
    }
  }
  return false;
}

function isLoop(node: ESTree.Node): boolean {
  return (
    node.type === 'ForStatement' ||
    node.type === 'ForInStatement' ||
    node.type === 'ForOfStatement' ||
    node.type === 'WhileStatement' ||
    node.type === 'DoWhileStatement'
  );
}

/**
 * no-race-with-done reports `Promise.race` against a context's `done` promise, against a
 * hand-made promise that listens on `ctx.signal`, and against a long-lived promise declared
 * outside the racing function. Every race adds a reaction to the long-lived promise that V8 keeps
 * until that promise settles: on a context that lives as long as the server, a loop of races
 * grows the heap by one closure (and whatever the work holds) per iteration. `abortable(ctx, work)`
 * settles the same way and unregisters as soon as either side settles.
 */
export const noRaceWithDone: Rule.RuleModule = {
  meta: {
    type: 'problem',
    docs: {
      description: 'Disallow Promise.race against ctx.done, ctx.signal or another long-lived promise',
      recommended: true,
    },
    hasSuggestions: true,
    schema: [],
    messages: {
      done: 'Promise.race against {{ctx}}.done leaves a reaction on it per call until the context ends (a leak on a long-lived context). Use abortable({{ctx}}, work), which unregisters when the work settles.',
      signal:
        'Promise.race against a promise that listens on a context signal adds a listener per call that is never removed. Use abortable(ctx, work), which unregisters when the work settles.',
      longLived:
        "Promise.race against '{{name}}', a promise that outlives this call, keeps one reaction per race until it settles (a leak in a loop or a request path). Derive a context for it and use abortable(ctx, work).",
      useAbortable:
        'Replace with abortable({{ctx}}, {{work}}) (it rejects with ctx.err instead of resolving).',
    },
  },
  create(context) {
    const sourceCode = context.sourceCode;
    if (!sourceCode.text.includes('race')) return {};

    function signalListenerIn(fn: ESTree.Node): ESTree.Node | undefined {
      let found: ESTree.Node | undefined;
      walk(sourceCode, fn, (n) => {
        if (
          n.type === 'MemberExpression' &&
          !n.computed &&
          n.property.type === 'Identifier' &&
          n.property.name === 'signal' &&
          isContextExpression(context, n.object)
        ) {
          found = n.object;
          return true;
        }
        return false;
      });
      return found;
    }

    function classify(el: ESTree.Node, raceFn: ESTree.Node | undefined): Finding | undefined {
      const e = unwrap(el);
      if (e.type === 'MemberExpression' && !e.computed && e.property.type === 'Identifier') {
        if (e.property.name === 'done' && isContextExpression(context, e.object))
          return { kind: 'done', ctx: e.object };
        return undefined;
      }
      if (e.type === 'NewExpression' && e.callee.type === 'Identifier' && e.callee.name === 'Promise') {
        const executor = e.arguments[0];
        if (executor && isFunctionNode(executor)) {
          const ctx = signalListenerIn(executor);
          if (ctx) return { kind: 'signal', ctx };
        }
        return undefined;
      }
      if (e.type === 'CallExpression') {
        // once(ctx.signal, 'abort') / events.once(ctx.signal, 'abort')
        const callee = e.callee;
        const isOnce =
          (callee.type === 'Identifier' && callee.name === 'once') ||
          (callee.type === 'MemberExpression' &&
            callee.property.type === 'Identifier' &&
            callee.property.name === 'once');
        const first = e.arguments[0];
        if (
          isOnce &&
          first?.type === 'MemberExpression' &&
          first.property.type === 'Identifier' &&
          first.property.name === 'signal' &&
          isContextExpression(context, first.object)
        ) {
          return { kind: 'signal', ctx: first.object };
        }
        return undefined;
      }
      if (e.type === 'Identifier') {
        const v = findVariable(context, e, e.name);
        const def = v?.defs[0];
        if (def?.type !== 'Variable') return undefined;
        const decl = def.node as ESTree.VariableDeclarator;
        const init = decl.init && unwrap(decl.init);
        if (!init) return undefined;
        if (init.type === 'MemberExpression' && !init.computed && init.property.type === 'Identifier') {
          if (init.property.name === 'done' && isContextExpression(context, init.object))
            return { kind: 'done', ctx: init.object };
        }
        if (
          init.type === 'NewExpression' &&
          init.callee.type === 'Identifier' &&
          init.callee.name === 'Promise'
        ) {
          const executor = init.arguments[0];
          if (executor && isFunctionNode(executor)) {
            const ctx = signalListenerIn(executor);
            if (ctx) return { kind: 'signal', ctx };
          }
          // Declared outside the racing function (module level or an outer function), or raced in a loop
          // that the declaration is outside of: the promise outlives each race.
          const declFn = enclosingFunction(decl);
          if (declFn !== raceFn || loopAround(el, decl)) return { kind: 'longLived', name: e.name };
        }
      }
      return undefined;
    }

    /** loopAround: a loop encloses `node` (within its function) but not `decl`. */
    function loopAround(node: ESTree.Node, decl: ESTree.Node): boolean {
      let p = parentOf(node);
      while (p && !isFunctionNode(p)) {
        if (isLoop(p) && !contains(p, decl)) return true;
        p = parentOf(p);
      }
      return false;
    }

    function contains(outer: ESTree.Node, inner: ESTree.Node): boolean {
      const [a, b] = outer.range ?? [0, 0];
      const [c, d] = inner.range ?? [0, 0];
      return a <= c && d <= b;
    }

    function abortableFix(
      call: ESTree.CallExpression,
      ctxNode: ESTree.Node,
      work: ESTree.Node,
    ): Rule.SuggestionReportDescriptor[] {
      const ctxText = sourceCode.getText(ctxNode);
      const workText = sourceCode.getText(work);
      const fixes: Array<(f: Rule.RuleFixer) => Rule.Fix> = [];
      const existing = findVariable(context, call, 'abortable');
      if (existing) {
        const def = existing.defs[0];
        if (
          def?.type !== 'ImportBinding' ||
          !isLeashSource(context, (def.parent as ESTree.ImportDeclaration).source.value)
        ) {
          return [];
        }
      } else {
        // Add abortable to an existing `import { ... } from 'leashjs'`, or offer nothing.
        const decl = sourceCode.ast.body.find(
          (s): s is ESTree.ImportDeclaration =>
            s.type === 'ImportDeclaration' &&
            s.source.value === 'leashjs' &&
            (s as { importKind?: string }).importKind !== 'type' &&
            s.specifiers.some((sp) => sp.type === 'ImportSpecifier'),
        );
        if (!decl) return [];
        const specifiers = decl.specifiers.filter((sp) => sp.type === 'ImportSpecifier');
        const last = specifiers[specifiers.length - 1]!;
        fixes.push((f) => f.insertTextAfter(last, ', abortable'));
      }
      return [
        {
          messageId: 'useAbortable',
          data: { ctx: ctxText, work: workText },
          fix: (f) => [f.replaceText(call, `abortable(${ctxText}, ${workText})`), ...fixes.map((g) => g(f))],
        },
      ];
    }

    return {
      CallExpression(node) {
        const callee = node.callee;
        if (
          callee.type !== 'MemberExpression' ||
          callee.computed ||
          callee.object.type !== 'Identifier' ||
          callee.object.name !== 'Promise' ||
          callee.property.type !== 'Identifier' ||
          callee.property.name !== 'race'
        ) {
          return;
        }
        if (findVariable(context, callee.object, 'Promise')?.defs.length) return; // a local Promise is not the global one
        const arr = node.arguments[0];
        if (arr?.type !== 'ArrayExpression') return;
        const raceFn = enclosingFunction(node);
        for (const el of arr.elements) {
          if (!el || el.type === 'SpreadElement') continue;
          const f = classify(el, raceFn);
          if (!f) continue;
          if (f.kind === 'longLived') {
            context.report({ node: el, messageId: 'longLived', data: { name: f.name } });
            continue;
          }
          const others = arr.elements.filter((x) => x !== el);
          const work =
            others.length === 1 && others[0] && others[0].type !== 'SpreadElement' ? others[0] : undefined;
          const suggest = f.ctx && work ? abortableFix(node, f.ctx, work) : [];
          if (f.kind === 'done') {
            context.report({
              node: el,
              messageId: 'done',
              data: { ctx: sourceCode.getText(f.ctx) },
              suggest,
            });
          } else {
            context.report({ node: el, messageId: 'signal', suggest });
          }
        }
      },
    };
  },
};
