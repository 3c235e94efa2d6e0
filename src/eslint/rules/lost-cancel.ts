import type { Rule, Scope } from 'eslint';
import type * as ESTree from 'estree';
import { isFunctionNode, parentOf } from '../context-detection.js';
import { CANCEL_PRODUCERS, findVariable, leashNameOf, mentionsAny } from '../leash-imports.js';

type Segment = Rule.CodePathSegment;

interface Tracked {
  variable: Scope.Variable;
  binding: ESTree.Identifier;
  producer: string;
  declarator: ESTree.VariableDeclarator | undefined;
  defSegments: Segment[];
  defPos: number;
}

interface Frame {
  node: ESTree.Node;
  codePath: Rule.CodePath;
  current: Set<Segment>;
  tracked: Tracked[];
  /** Segments that end the process (`process.exit()`): no leak past them. */
  noReturn: Set<Segment>;
  /** The return or throw statement that ends a segment, for the message. */
  exits: Map<Segment, ESTree.Node>;
}

function rangeStart(node: ESTree.Node): number {
  return node.range?.[0] ?? 0;
}

/**
 * lost-cancel is Go's `go vet` lostcancel check for leash: the cancel function of withCancel,
 * withTimeout, withDeadline (and their Cause forms), fromSignal and signalContext must be used
 * (called, returned, stored, passed, bound with `using`) on every path from its declaration to an
 * exit of the function, early returns and explicit throws included. Until it is called the child
 * stays linked into its parent and a deadline's timer stays armed: on a long-lived parent that is a
 * leak per call. The check walks ESLint's code path graph, as lostcancel walks Go's control flow.
 */
export const lostCancel: Rule.RuleModule = {
  meta: {
    type: 'problem',
    docs: {
      description:
        'Require the cancel function of withCancel/withTimeout/withDeadline/fromSignal to be used on every path',
      recommended: true,
    },
    hasSuggestions: true,
    schema: [],
    messages: {
      discarded:
        'The cancel function returned by {{producer}} is discarded: the context stays linked to its parent (and its timer armed) until the parent ends. Keep it and call it when the work is done.',
      notOnAllPaths:
        "The cancel function '{{cancel}}' from {{producer}} is not used on all paths (possible context leak): {{exit}} is reachable without calling, returning, storing or passing it.",
      bindWithUsing: 'Bind it with `using {{name}} = {{cancel}};` so that every exit cancels the context.',
      keepAndUse: 'Keep the cancel function as `{{cancel}}` and bind it with `using`.',
    },
  },
  create(context) {
    // A file that never names a producer has nothing to check: no listeners at all (the code path
    // events are the costly part). Aliases and namespace calls still spell the exported name.
    if (!mentionsAny(context.sourceCode.text, CANCEL_PRODUCERS)) return {};
    const frames: Frame[] = [];
    /** Frames on the stack that track a cancel function: closure positions matter only then. */
    let tracking = 0;
    /** Where a nested function appears in its parent's code path: a reference inside it is a use there. */
    const fnOuterSegments = new Map<ESTree.Node, Segment[]>();
    const identSegments = new Map<ESTree.Node, Segment[]>();
    const trackedNames = new Set<string>();

    function top(): Frame | undefined {
      return frames[frames.length - 1];
    }

    function usingSuggestion(
      declarator: ESTree.VariableDeclarator,
      cancelName: string,
    ): Rule.SuggestionReportDescriptor[] {
      const decl = parentOf(declarator);
      const block = decl && parentOf(decl);
      if (
        decl?.type !== 'VariableDeclaration' ||
        (block?.type !== 'BlockStatement' && block?.type !== 'StaticBlock')
      ) {
        return [];
      }
      const name = findVariable(context, declarator, '_') ? `_${cancelName}` : '_';
      const indent = ' '.repeat(decl.loc?.start.column ?? 0);
      return [
        {
          messageId: 'bindWithUsing',
          data: { name, cancel: cancelName },
          fix: (fixer) => fixer.insertTextAfter(decl, `\n${indent}using ${name} = ${cancelName};`),
        },
      ];
    }

    function reportDiscarded(
      node: ESTree.Node,
      producer: string,
      declarator?: ESTree.VariableDeclarator,
    ): void {
      const suggest: Rule.SuggestionReportDescriptor[] = [];
      const pattern = declarator?.id;
      const decl = declarator && parentOf(declarator);
      const block = decl && parentOf(decl);
      if (
        declarator &&
        pattern?.type === 'ArrayPattern' &&
        pattern.elements.length === 1 &&
        pattern.elements[0] &&
        decl?.type === 'VariableDeclaration' &&
        (block?.type === 'BlockStatement' || block?.type === 'StaticBlock') &&
        !findVariable(context, declarator, 'cancel')
      ) {
        const first = pattern.elements[0];
        const name = findVariable(context, declarator, '_') ? '_cancel' : '_';
        const indent = ' '.repeat(decl.loc?.start.column ?? 0);
        suggest.push({
          messageId: 'keepAndUse',
          data: { cancel: 'cancel' },
          fix: (fixer) => [
            fixer.insertTextAfter(first, ', cancel'),
            fixer.insertTextAfter(decl, `\n${indent}using ${name} = cancel;`),
          ],
        });
      }
      context.report({ node, messageId: 'discarded', data: { producer }, suggest });
    }

    function track(call: ESTree.CallExpression, producer: string): void {
      const frame = top();
      const parent = parentOf(call);
      if (!frame || !parent) return;
      // Top-level code runs once: a root context there lives as long as the program (Go's
      // lostcancel checks function bodies only). In a top-level loop it is one per turn.
      if (frame.node.type === 'Program' && !inLoop(call)) return;
      let pattern: ESTree.Pattern | undefined;
      let declarator: ESTree.VariableDeclarator | undefined;
      if (parent.type === 'VariableDeclarator' && parent.init === call) {
        pattern = parent.id;
        declarator = parent;
      } else if (parent.type === 'AssignmentExpression' && parent.right === call && parent.operator === '=') {
        pattern = parent.left;
      } else if (parent.type === 'ExpressionStatement') {
        reportDiscarded(call, producer);
        return;
      } else if (parent.type === 'MemberExpression' && parent.object === call) {
        // withTimeout(...)[0]: the pair is indexed and the cancel function dropped.
        const p = parent.property;
        if (parent.computed && p.type === 'Literal' && p.value === 0) reportDiscarded(call, producer);
        return;
      }
      // Returned, passed, stored whole: the caller owns the cancel function.
      if (pattern?.type !== 'ArrayPattern') return;
      const second = pattern.elements[1];
      if (!second) {
        if (!pattern.elements.some((e) => e?.type === 'RestElement')) {
          reportDiscarded(pattern, producer, declarator);
        }
        return;
      }
      // Assigned to a property or a default-valued pattern: stored, not ours to follow.
      if (second.type !== 'Identifier') return;
      const variable = findVariable(context, second, second.name);
      if (!variable) return;
      // A variable of an enclosing function (Go issue 31856): stored for later.
      if (variable.scope.variableScope.block !== frame.node) return;
      trackedNames.add(second.name);
      if (frame.tracked.length === 0) tracking++;
      frame.tracked.push({
        variable,
        binding: second,
        producer,
        declarator,
        defSegments: [...frame.current],
        defPos: rangeStart(call),
      });
    }

    function inLoop(node: ESTree.Node): boolean {
      for (let p = parentOf(node); p; p = parentOf(p)) {
        if (
          p.type === 'ForStatement' ||
          p.type === 'ForInStatement' ||
          p.type === 'ForOfStatement' ||
          p.type === 'WhileStatement' ||
          p.type === 'DoWhileStatement'
        ) {
          return true;
        }
      }
      return false;
    }

    /** The outermost function between `id` and the frame's function, if the reference is in a closure. */
    function closureOf(id: ESTree.Node, frameNode: ESTree.Node): ESTree.Node | undefined {
      let closure: ESTree.Node | undefined;
      let p = parentOf(id);
      while (p && p !== frameNode) {
        if (isFunctionNode(p)) closure = p;
        p = parentOf(p);
      }
      return closure;
    }

    function describeExit(frame: Frame, seg: Segment): string {
      const exit = frame.exits.get(seg);
      if (exit) {
        const kind = exit.type === 'ThrowStatement' ? 'the throw' : 'the return';
        return `${kind} on line ${exit.loc?.start.line}`;
      }
      return frame.node.type === 'Program' ? 'the end of the module' : 'the end of the function';
    }

    function analyse(frame: Frame): void {
      const final = new Set(frame.codePath.finalSegments);
      for (const t of frame.tracked) {
        const uses = new Map<Segment, number[]>();
        let usedEverywhere = false;
        for (const ref of t.variable.references) {
          if (!ref.isRead()) continue;
          const closure = closureOf(ref.identifier as ESTree.Identifier, frame.node);
          let segs: Segment[] | undefined;
          let pos: number;
          if (closure) {
            // A hoisted function declaration can run from anywhere: count it as a use everywhere.
            if (closure.type === 'FunctionDeclaration') usedEverywhere = true;
            segs = fnOuterSegments.get(closure);
            pos = rangeStart(closure);
          } else {
            segs = identSegments.get(ref.identifier as ESTree.Identifier);
            pos = rangeStart(ref.identifier as ESTree.Identifier);
          }
          // Not seen in traversal order (a use written before the declaration, in a loop): be lenient.
          if (!segs) usedEverywhere = true;
          for (const s of segs ?? []) {
            const list = uses.get(s);
            if (list) list.push(pos);
            else uses.set(s, [pos]);
          }
        }
        if (usedEverywhere) continue;
        const leak = findLeak(frame, t, uses, final);
        if (!leak) continue;
        context.report({
          node: t.binding,
          messageId: 'notOnAllPaths',
          data: { cancel: t.binding.name, producer: t.producer, exit: describeExit(frame, leak) },
          suggest: t.declarator ? usingSuggestion(t.declarator, t.binding.name) : [],
        });
      }
    }

    function findLeak(
      frame: Frame,
      t: Tracked,
      uses: Map<Segment, number[]>,
      final: Set<Segment>,
    ): Segment | undefined {
      for (const start of t.defSegments) {
        if (!start.reachable) continue;
        if (uses.get(start)?.some((p) => p > t.defPos) || frame.noReturn.has(start)) continue;
        const seen = new Set<Segment>([start]);
        const queue: Segment[] = [start];
        while (queue.length > 0) {
          const s = queue.shift()!;
          if (s !== start && (uses.has(s) || frame.noReturn.has(s))) continue;
          if (final.has(s)) return s;
          for (const n of s.nextSegments) {
            if (n.reachable && !seen.has(n)) {
              seen.add(n);
              queue.push(n);
            }
          }
        }
      }
      return undefined;
    }

    return {
      onCodePathStart(codePath, node) {
        const outer = top();
        if (outer && tracking > 0) fnOuterSegments.set(node, [...outer.current]);
        frames.push({
          node,
          codePath,
          current: new Set(),
          tracked: [],
          noReturn: new Set(),
          exits: new Map(),
        });
      },
      onCodePathEnd() {
        const frame = frames.pop();
        if (frame && frame.tracked.length > 0) {
          tracking--;
          analyse(frame);
        }
      },
      onCodePathSegmentStart(segment) {
        top()?.current.add(segment);
      },
      onCodePathSegmentEnd(segment) {
        top()?.current.delete(segment);
      },
      onUnreachableCodePathSegmentStart(segment) {
        top()?.current.add(segment);
      },
      onUnreachableCodePathSegmentEnd(segment) {
        top()?.current.delete(segment);
      },
      CallExpression(node) {
        const callee = node.callee;
        if (
          callee.type === 'MemberExpression' &&
          callee.object.type === 'Identifier' &&
          callee.object.name === 'process' &&
          callee.property.type === 'Identifier' &&
          callee.property.name === 'exit'
        ) {
          const frame = top();
          if (frame) for (const s of frame.current) frame.noReturn.add(s);
          return;
        }
        if (callee.type !== 'Identifier' && callee.type !== 'MemberExpression') return;
        const name = leashNameOf(context, callee);
        if (name && CANCEL_PRODUCERS.has(name)) track(node, name);
      },
      Identifier(node) {
        if (!trackedNames.has(node.name)) return;
        const frame = top();
        if (frame) identSegments.set(node, [...frame.current]);
      },
      'ReturnStatement, ThrowStatement'(node: ESTree.ReturnStatement | ESTree.ThrowStatement) {
        const frame = top();
        if (frame) for (const s of frame.current) frame.exits.set(s, node);
      },
    };
  },
};
