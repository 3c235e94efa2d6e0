import type { Rule, Scope } from 'eslint';
import type * as ESTree from 'estree';
import { enclosingFunction, isFunctionNode, parentOf } from '../context-detection.js';
import { findVariable } from '../leash-imports.js';

const ADD_LISTENER = new Set(['on', 'addListener', 'addEventListener', 'prependListener']);
const REMOVE_LISTENER = new Set(['off', 'removeListener', 'removeEventListener', 'removeAllListeners']);
const HANDLE_MODULES = new Set(['net', 'tls', 'http', 'https', 'http2']);
const HANDLE_FACTORIES = new Set(['connect', 'createConnection', 'createServer', 'createSecureServer']);
const RELEASE_METHODS = new Set([
  'close',
  'destroy',
  'end',
  'unref',
  'closeAllConnections',
  'resetAndDestroy',
  'destroySoon',
]);

/** The identifier a member chain starts from: `shutdown` in `shutdown.signal.addEventListener`. */
function rootIdentifier(node: ESTree.Node): ESTree.Identifier | undefined {
  let n = node;
  while (n.type === 'MemberExpression') n = n.object;
  return n.type === 'Identifier' ? n : undefined;
}

function methodCall(
  node: ESTree.Node | null,
): { call: ESTree.CallExpression; name: string; target: ESTree.Node } | undefined {
  if (node?.type !== 'CallExpression') return undefined;
  const c = node.callee;
  if (c.type !== 'MemberExpression' || c.computed || c.property.type !== 'Identifier') return undefined;
  return { call: node, name: c.property.name, target: c.object };
}

/**
 * no-orphan-resource reports work that nothing can ever release, the leak corpus's non-Context
 * patterns that a linter can see: an interval whose handle is dropped; a listener added, on every
 * call of a function, to an emitter or AbortSignal that outlives the call, with no removal in that
 * function; a socket or server from net/tls/http that is never closed, destroyed, ended, unref'd,
 * returned or handed to anyone (inside a function: a program's top-level server lives as long as the
 * program). Each piles up per request until the process runs out of memory or
 * cannot exit; leash's fixes are `ticker(ctx, ms)`, `afterFunc(ctx, cleanup)` and `fromSignal`.
 */
export const noOrphanResource: Rule.RuleModule = {
  meta: {
    type: 'problem',
    docs: {
      description: 'Disallow intervals, listeners, sockets and servers that nothing can release',
      recommended: true,
    },
    schema: [],
    messages: {
      interval:
        "setInterval's handle is dropped: nothing can ever clear this interval, and it keeps the process alive. Use ticker(ctx, ms) from leashjs/task, or keep the handle and clear it when the context ends (afterFunc(ctx, () => clearInterval(h))).",
      listener:
        "A listener is added to '{{target}}', which outlives this function, on every call and never removed: listeners (and what they hold) pile up. Remove it when the work ends (afterFunc(ctx, () => {{target}}.{{off}}(...))), pass { signal }, or derive a context with fromSignal.",
      handle:
        "'{{name}}' is never closed, destroyed, ended or handed to anyone: it keeps the process alive after the work ends. Close it when the context ends: afterFunc(ctx, () => {{name}}.{{release}}()).",
    },
  },
  create(context) {
    if (!/setInterval|\.on\(|Listener\(|connect|create(Secure)?Server/.test(context.sourceCode.text))
      return {};
    function isGlobal(id: ESTree.Identifier): boolean {
      const v = findVariable(context, id, id.name);
      return !v || v.defs.length === 0;
    }

    function hasAbortOption(call: ESTree.CallExpression): boolean {
      const opt = call.arguments[2];
      if (!opt) return false;
      if (opt.type !== 'ObjectExpression') return true; // an options variable may carry a signal
      return opt.properties.some(
        (p) =>
          p.type === 'SpreadElement' ||
          (p.type === 'Property' &&
            p.key.type === 'Identifier' &&
            (p.key.name === 'signal' ||
              (p.key.name === 'once' && !(p.value.type === 'Literal' && p.value.value === false)))),
      );
    }

    /** Some reference to `v` inside `fn` removes listeners from it. */
    function removedIn(v: Scope.Variable, fn: ESTree.Node): boolean {
      const [a, b] = fn.range ?? [0, 0];
      for (const ref of v.references) {
        const id = ref.identifier as ESTree.Identifier;
        const pos = id.range?.[0] ?? -1;
        if (pos < a || pos > b) continue;
        // Walk up the member chain to the call it is the target of.
        let n: ESTree.Node = id;
        let p = parentOf(n);
        while (p?.type === 'MemberExpression' && p.object === n) {
          const m = methodCall(parentOf(p));
          if (m && m.call.callee === p && REMOVE_LISTENER.has(m.name)) return true;
          n = p;
          p = parentOf(n);
        }
      }
      return false;
    }

    function checkListener(call: ESTree.CallExpression, name: string, target: ESTree.Node): void {
      const fn = enclosingFunction(call);
      if (!fn) return; // top-level code runs once
      const root = rootIdentifier(target);
      if (!root || root.name === 'this' || isGlobal(root)) return;
      const v = findVariable(context, root, root.name);
      if (!v) return;
      const declBlock = v.scope.variableScope.block;
      // Declared in this function (or below it): created per call, released with it.
      if (declBlock === fn || isInside(declBlock, fn)) return;
      if (v.defs[0]?.type === 'Parameter' || v.defs[0]?.type === 'ImportBinding') return;
      if (name === 'addEventListener' && hasAbortOption(call)) return;
      if (removedIn(v, fn)) return;
      const text = context.sourceCode.getText(target);
      context.report({
        node: call,
        messageId: 'listener',
        data: { target: text, off: name === 'addEventListener' ? 'removeEventListener' : 'off' },
      });
    }

    function isInside(inner: ESTree.Node, outer: ESTree.Node): boolean {
      for (let p: ESTree.Node | null = inner; p; p = parentOf(p)) if (p === outer) return true;
      return false;
    }

    /** `net.connect(...)`, `http.createServer(...).listen(...)`: the handle factory in a call chain. */
    function handleFactory(init: ESTree.Node | null | undefined): string | undefined {
      let n = init;
      while (n) {
        const m = n.type === 'CallExpression' ? methodCall(n) : undefined;
        if (!m) return undefined;
        if (
          m.target.type === 'Identifier' &&
          HANDLE_MODULES.has(m.target.name) &&
          HANDLE_FACTORIES.has(m.name)
        ) {
          return m.name;
        }
        n = m.target;
      }
      return undefined;
    }

    /** Is `id` released or handed on: a release method, returned, passed, stored, captured by `using`? */
    function releasedOrEscapes(id: ESTree.Identifier): boolean {
      const p = parentOf(id);
      if (!p) return true;
      if (p.type === 'MemberExpression' && p.object === id) {
        const m = methodCall(parentOf(p));
        if (m && m.call.callee === p) return RELEASE_METHODS.has(m.name);
        return false; // a property read (server.address) keeps it ours
      }
      if (p.type === 'CallExpression' || p.type === 'NewExpression') return true; // passed
      return (
        p.type === 'ReturnStatement' ||
        p.type === 'ArrowFunctionExpression' ||
        p.type === 'AssignmentExpression' ||
        p.type === 'VariableDeclarator' ||
        p.type === 'ArrayExpression' ||
        p.type === 'Property' ||
        p.type === 'SpreadElement' ||
        p.type === 'YieldExpression' ||
        p.type === 'AwaitExpression'
      );
    }

    return {
      ExpressionStatement(node) {
        const e = node.expression;
        if (
          e.type === 'CallExpression' &&
          e.callee.type === 'Identifier' &&
          e.callee.name === 'setInterval'
        ) {
          if (isGlobal(e.callee)) context.report({ node: e, messageId: 'interval' });
        }
      },
      CallExpression(node) {
        const m = methodCall(node);
        if (
          m &&
          ADD_LISTENER.has(m.name) &&
          node.arguments.length >= 2 &&
          isFunctionLike(node.arguments[1])
        ) {
          checkListener(node, m.name, m.target);
        }
      },
      VariableDeclarator(node) {
        if (node.id.type !== 'Identifier') return;
        const factory = handleFactory(node.init);
        // Top-level code runs once: a program's server lives as long as the program.
        if (!factory || !enclosingFunction(node)) return;
        const v = findVariable(context, node.id, node.id.name);
        if (!v) return;
        for (const ref of v.references) {
          if (ref.identifier === node.id) continue;
          if (releasedOrEscapes(ref.identifier as ESTree.Identifier)) return;
        }
        context.report({
          node,
          messageId: 'handle',
          data: {
            name: node.id.name,
            release: factory.startsWith('create') && factory !== 'createConnection' ? 'close' : 'destroy',
          },
        });
      },
    };
  },
};

function isFunctionLike(node: ESTree.Node | undefined): boolean {
  return !!node && (isFunctionNode(node) || node.type === 'Identifier' || node.type === 'MemberExpression');
}
