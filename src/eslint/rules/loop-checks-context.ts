import type { Rule, SourceCode } from 'eslint';
import type * as ESTree from 'estree';
import {
  contextParamsOf,
  type FunctionNode,
  isContextName,
  isFunctionNode,
  parentOf,
} from '../context-detection.js';

type Loop = ESTree.WhileStatement | ESTree.DoWhileStatement | ESTree.ForStatement;

function isConstantTrue(test: ESTree.Expression | null | undefined): boolean {
  if (!test) return true;
  return test.type === 'Literal' && Boolean(test.value) === true;
}

interface LoopFacts {
  awaits: boolean;
  observes: boolean;
  exits: boolean;
}

/**
 * Scans a loop's own code (nested functions excluded, but their references to the context
 * count: a callback given ctx observes it): does it await, does it read a context, can it leave?
 */
function scan(sourceCode: SourceCode, loop: Loop, ctxNames: Set<string>): LoopFacts {
  const facts: LoopFacts = { awaits: false, observes: false, exits: false };
  const visit = (node: ESTree.Node, inFunction: boolean, breakable: boolean): void => {
    switch (node.type) {
      case 'AwaitExpression':
        if (!inFunction) facts.awaits = true;
        break;
      case 'ForOfStatement':
        if (node.await && !inFunction) facts.awaits = true;
        break;
      case 'Identifier':
        if (ctxNames.has(node.name) || isContextName(node.name) || node.name === 'signal')
          facts.observes = true;
        break;
      case 'MemberExpression':
        if (!node.computed && node.property.type === 'Identifier' && node.property.name === 'ctx')
          facts.observes = true;
        break;
      case 'ReturnStatement':
      case 'ThrowStatement':
        if (!inFunction) facts.exits = true;
        break;
      case 'BreakStatement':
        // An unlabelled break leaves the innermost loop or switch: ours only if nothing nearer is breakable.
        if (!inFunction && (node.label || !breakable)) facts.exits = true;
        break;
      default:
        break;
    }
    const nestedFn = inFunction || isFunctionNode(node);
    const nestedBreakable =
      breakable ||
      (node !== loop &&
        (node.type === 'SwitchStatement' ||
          node.type === 'ForStatement' ||
          node.type === 'ForInStatement' ||
          node.type === 'ForOfStatement' ||
          node.type === 'WhileStatement' ||
          node.type === 'DoWhileStatement'));
    for (const key of sourceCode.visitorKeys[node.type] ?? []) {
      const child = (node as unknown as Record<string, unknown>)[key];
      if (Array.isArray(child)) {
        for (const c of child)
          if (c && typeof c === 'object') visit(c as ESTree.Node, nestedFn, nestedBreakable);
      } else if (child && typeof child === 'object' && key !== 'parent') {
        visit(child as ESTree.Node, nestedFn, nestedBreakable);
      }
    }
  };
  visit(loop, false, false);
  return facts;
}

/**
 * loop-checks-context reports an endless or open-ended loop (`for (;;)`, `while (cond)`,
 * `do ... while`) that awaits on every turn, inside a function that has a context, when nothing in
 * the loop observes that context: no ctx passed to a call, no ctx.err, ctx.signal or ctx.done read.
 * Such a loop keeps running after the request or task that started it ended (the background
 * article's loop that never checks `ctx.Done()`). An endless async loop with no way out at all
 * (no break, return or throw) in a function without any context is reported too: nothing can stop it.
 */
export const loopChecksContext: Rule.RuleModule = {
  meta: {
    type: 'problem',
    docs: {
      description: 'Require long async loops to observe the context they run under',
      recommended: true,
    },
    hasSuggestions: true,
    schema: [],
    messages: {
      unobserved:
        "This loop awaits on every turn but never looks at '{{ctx}}': it keeps running after the context ends. Pass {{ctx}} to the awaited call (sleep({{ctx}}, ms), ch.recv({{ctx}})) or check {{ctx}}.err.",
      endless:
        'This endless loop awaits on every turn and has no way out (no break, return or throw): nothing can stop it. Give the function a context and pass it to the awaited call, or check ctx.err.',
      checkErr: 'Insert `if ({{ctx}}.err) throw {{ctx}}.err;` at the top of the loop body.',
    },
  },
  create(context) {
    const sourceCode = context.sourceCode;
    if (!sourceCode.text.includes('await')) return {};

    function ctxNamesOf(loop: Loop): { names: Set<string>; first: string | undefined } {
      const names = new Set<string>();
      let first: string | undefined;
      let p = parentOf(loop);
      while (p) {
        if (isFunctionNode(p)) {
          for (const id of contextParamsOf(context, p as FunctionNode)) {
            names.add(id.name);
            first ??= id.name;
          }
        }
        p = parentOf(p);
      }
      return { names, first };
    }

    function onLoop(loop: Loop): void {
      const endless = isConstantTrue(loop.test);
      if (loop.type === 'ForStatement' && !endless && loop.update) return; // a counted loop
      const { names, first } = ctxNamesOf(loop);
      const facts = scan(sourceCode, loop, names);
      if (!facts.awaits || facts.observes) return;
      const loc = { start: loop.loc!.start, end: (loop.body.loc ?? loop.loc!).start };
      if (first) {
        const body = loop.body;
        const suggest: Rule.SuggestionReportDescriptor[] =
          body.type === 'BlockStatement'
            ? [
                {
                  messageId: 'checkErr',
                  data: { ctx: first },
                  fix: (fixer) => {
                    const open = sourceCode.getFirstToken(body)!;
                    return fixer.insertTextAfter(open, ` if (${first}.err) throw ${first}.err;`);
                  },
                },
              ]
            : [];
        context.report({ loc, messageId: 'unobserved', data: { ctx: first }, suggest });
        return;
      }
      if (endless && !facts.exits) context.report({ loc, messageId: 'endless' });
    }

    return {
      WhileStatement: onLoop,
      DoWhileStatement: onLoop,
      ForStatement: onLoop,
    };
  },
};
