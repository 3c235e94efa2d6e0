import type { Rule } from 'eslint';
import type * as ESTree from 'estree';
import {
  annotatedAsContext,
  hasTypeInformation,
  isContextType,
  paramIdentifier,
  parentOf,
} from '../context-detection.js';
import { findVariable } from '../leash-imports.js';

interface Options {
  names?: string[];
}

const DEFAULT_NAMES = ['ctx', 'parent'];

interface FunctionLike {
  type: string;
  params: ESTree.Node[];
}

/**
 * context-first is Go's convention, written in the context package's own comment: "The Context
 * should be the first parameter, typically named ctx". A function that takes a Context takes it
 * first, named `ctx` (or `parent`, for functions that derive a child, as Go's own do). Callers
 * then never wonder where it goes, and `grep '(ctx'` finds every function on the cancellation path.
 * With typescript-eslint type information a parameter is a Context by its type; without, by its
 * annotation (`x: Context`), and in plain JavaScript by its name (`ctx` or `context`).
 * Callbacks are exempt: their order belongs to the API that calls them. A name starting with `_`
 * (an unused parameter) is left alone.
 */
export const contextFirst: Rule.RuleModule = {
  meta: {
    type: 'suggestion',
    docs: {
      description: 'Require a Context parameter to come first and be named ctx',
      recommended: true,
    },
    hasSuggestions: true,
    schema: [
      {
        type: 'object',
        properties: { names: { type: 'array', items: { type: 'string' }, minItems: 1 } },
        additionalProperties: false,
      },
    ],
    defaultOptions: [{ names: DEFAULT_NAMES }],
    messages: {
      first: "The Context parameter '{{name}}' should come first (Go's convention: func f(ctx, ...)).",
      name: "The Context parameter '{{name}}' should be named {{expected}}.",
      rename: "Rename '{{name}}' to '{{to}}'.",
    },
  },
  create(context) {
    if (!/ctx|context/i.test(context.sourceCode.text)) return {};
    const options = (context.options[0] ?? {}) as Options;
    const names = options.names ?? DEFAULT_NAMES;
    const typed = hasTypeInformation(context);

    function isCtx(id: ESTree.Identifier): 'typed' | 'named' | undefined {
      if (annotatedAsContext(context, id)) return 'typed';
      if (typed) return isContextType(context, id) ? 'typed' : undefined;
      const ann = (id as unknown as { typeAnnotation?: unknown }).typeAnnotation;
      if (ann) return undefined; // annotated with something else
      return id.name === 'ctx' || id.name === 'context' ? 'named' : undefined;
    }

    function isCallback(fn: ESTree.Node): boolean {
      const p = parentOf(fn);
      return (
        (p?.type === 'CallExpression' || p?.type === 'NewExpression') &&
        p.arguments.includes(fn as ESTree.Expression)
      );
    }

    function renameSuggestion(
      fn: FunctionLike,
      id: ESTree.Identifier,
      to: string,
    ): Rule.SuggestionReportDescriptor[] {
      if (
        fn.type !== 'FunctionDeclaration' &&
        fn.type !== 'FunctionExpression' &&
        fn.type !== 'ArrowFunctionExpression'
      ) {
        return [];
      }
      const v = findVariable(context, fn as ESTree.Node, id.name);
      if (!v || v.defs[0]?.name !== id) return [];
      // The new name must not be bound anywhere the parameter is used.
      for (const ref of v.references) {
        const other = findVariable(context, ref.identifier as ESTree.Identifier, to);
        if (other && other.defs.length > 0) return [];
      }
      if (findVariable(context, fn as ESTree.Node, to)?.defs.length) return [];
      return [
        {
          messageId: 'rename',
          data: { name: id.name, to },
          fix: (fixer) => {
            const fixes = [fixer.replaceText(id, `${to}${typeText(id)}`)];
            for (const ref of v.references)
              if (ref.identifier !== id) fixes.push(fixer.replaceText(ref.identifier, to));
            return fixes;
          },
        },
      ];
    }

    function typeText(id: ESTree.Identifier): string {
      const ann = (id as unknown as { typeAnnotation?: ESTree.Node }).typeAnnotation;
      return ann ? context.sourceCode.getText(ann) : '';
    }

    function check(fn: FunctionLike): void {
      const params = fn.params.filter((p) => paramIdentifier(p)?.name !== 'this');
      for (let i = 0; i < params.length; i++) {
        const id = paramIdentifier(params[i]!);
        if (!id) continue;
        const kind = isCtx(id);
        if (!kind) continue;
        if (i > 0) {
          if (!isCallback(fn as unknown as ESTree.Node))
            context.report({ node: id, messageId: 'first', data: { name: id.name } });
        } else if (kind === 'typed' && !names.includes(id.name) && !id.name.startsWith('_')) {
          context.report({
            node: id,
            messageId: 'name',
            data: { name: id.name, expected: names.map((n) => `'${n}'`).join(' or ') },
            suggest: renameSuggestion(fn, id, names[0]!),
          });
        }
        return;
      }
    }

    return {
      FunctionDeclaration: check,
      FunctionExpression: check,
      ArrowFunctionExpression: check,
      TSDeclareFunction: check,
      TSEmptyBodyFunctionExpression: check,
      TSMethodSignature: check,
      TSFunctionType: check,
    } as Rule.RuleListener;
  },
};
