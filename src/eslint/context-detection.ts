import type { Rule } from 'eslint';
import type * as ESTree from 'estree';
import { bindingOf, CANCEL_PRODUCERS, findVariable, leashNameOf } from './leash-imports.js';

/** A function node of any kind (the TS-only signature kinds are handled by context-first alone). */
export type FunctionNode =
  | ESTree.FunctionDeclaration
  | ESTree.FunctionExpression
  | ESTree.ArrowFunctionExpression;

export function isFunctionNode(node: ESTree.Node | null | undefined): node is FunctionNode {
  return (
    node?.type === 'FunctionDeclaration' ||
    node?.type === 'FunctionExpression' ||
    node?.type === 'ArrowFunctionExpression'
  );
}

/** parentOf reads the parent link ESLint sets on every node. */
export function parentOf(node: ESTree.Node): ESTree.Node | null {
  return (node as Rule.Node).parent ?? null;
}

/** enclosingFunction is the nearest function around `node`, or undefined at module level. */
export function enclosingFunction(node: ESTree.Node): FunctionNode | undefined {
  let p = parentOf(node);
  while (p) {
    if (isFunctionNode(p)) return p;
    p = parentOf(p);
  }
  return undefined;
}

/** Names that say "this is a context" without types: `ctx`, and `parentCtx`, `reqCtx` and the like. */
export function isContextName(name: string): boolean {
  return name === 'ctx' || (name.length > 3 && name.endsWith('Ctx'));
}

interface TypeChecker {
  getTypeAtLocation(node: unknown): TsType;
}
interface TsType {
  getProperty(name: string): unknown;
  getSymbol(): { getName(): string } | undefined;
  aliasSymbol?: { getName(): string };
  isUnion?(): boolean;
}
interface ParserServices {
  program?: { getTypeChecker(): TypeChecker } | null;
  esTreeNodeToTSNodeMap?: { get(node: unknown): unknown };
}

const checkers = new WeakMap<object, TypeChecker | null>();

function checkerOf(
  context: Rule.RuleContext,
): { checker: TypeChecker; services: ParserServices } | undefined {
  const services = context.sourceCode.parserServices as ParserServices | undefined;
  if (!services?.program || !services.esTreeNodeToTSNodeMap) return undefined;
  let checker = checkers.get(services.program);
  if (checker === undefined) {
    checker = services.program.getTypeChecker();
    checkers.set(services.program, checker);
  }
  return checker ? { checker, services } : undefined;
}

/** hasTypeInformation: typescript-eslint's parser ran with a program (type-aware linting). */
export function hasTypeInformation(context: Rule.RuleContext): boolean {
  return checkerOf(context) !== undefined;
}

/**
 * isContextType asks the type checker (when typescript-eslint provides one) whether `node` has
 * leash's Context type: a type named Context with the members deadline, err, signal and done.
 * Returns undefined when no type information exists, so callers fall back to names.
 */
export function isContextType(context: Rule.RuleContext, node: ESTree.Node): boolean | undefined {
  const c = checkerOf(context);
  if (!c) return undefined;
  const tsNode = c.services.esTreeNodeToTSNodeMap?.get(node);
  if (!tsNode) return undefined;
  const type = c.checker.getTypeAtLocation(tsNode);
  const name = type.aliasSymbol?.getName() ?? type.getSymbol()?.getName();
  if (name !== 'Context') return false;
  return ['deadline', 'err', 'signal', 'done'].every((p) => type.getProperty(p) !== undefined);
}

interface TypeAnnotated {
  typeAnnotation?: { typeAnnotation?: { type: string; typeName?: ESTree.Node } };
}

/** The parameter's own identifier: `ctx` in `ctx`, `ctx = x` and `ctx: Context`. */
export function paramIdentifier(param: ESTree.Node): ESTree.Identifier | undefined {
  if (param.type === 'Identifier') return param;
  if (param.type === 'AssignmentPattern' && param.left.type === 'Identifier') return param.left;
  const tsParam = param as unknown as { type: string; parameter?: ESTree.Node };
  if (tsParam.type === 'TSParameterProperty' && tsParam.parameter) return paramIdentifier(tsParam.parameter);
  return undefined;
}

/** annotatedAsContext: the parameter is written `x: Context`, Context imported from leash (or not declared). */
export function annotatedAsContext(context: Rule.RuleContext, id: ESTree.Identifier): boolean {
  const ann = (id as unknown as TypeAnnotated).typeAnnotation?.typeAnnotation;
  if (ann?.type !== 'TSTypeReference' || !ann.typeName) return false;
  const typeName = ann.typeName;
  if (typeName.type === 'Identifier') {
    if (typeName.name !== 'Context') return false;
    const b = bindingOf(context, typeName);
    return b.kind === 'name' || b.kind === 'global';
  }
  // leash.Context through a namespace import
  const q = typeName as unknown as { type: string; left?: ESTree.Node; right?: ESTree.Identifier };
  if (q.type === 'TSQualifiedName' && q.right?.name === 'Context' && q.left?.type === 'Identifier') {
    return bindingOf(context, q.left).kind === 'namespace';
  }
  return false;
}

/**
 * isContextParam: typed Context (type-aware), annotated Context, or (without types) named like one.
 * With type information, the type decides: a `ctx` that is a Koa context is not a leash Context.
 */
export function isContextParam(context: Rule.RuleContext, id: ESTree.Identifier): boolean {
  if (annotatedAsContext(context, id)) return true;
  const typed = isContextType(context, id);
  if (typed !== undefined) return typed;
  return isContextName(id.name);
}

/** contextParamsOf lists a function's parameters that are contexts. */
export function contextParamsOf(context: Rule.RuleContext, fn: FunctionNode): ESTree.Identifier[] {
  const out: ESTree.Identifier[] = [];
  for (const p of fn.params) {
    const id = paramIdentifier(p);
    if (id && isContextParam(context, id)) out.push(id);
  }
  return out;
}

/**
 * isContextExpression: an expression that evidently holds a Context: a context-named identifier,
 * `x.ctx` (`req.ctx`, `g.ctx`), a variable bound from a leash context producer, `contextOf(req)`,
 * `currentContext()`, or (type-aware) anything typed Context.
 */
export function isContextExpression(context: Rule.RuleContext, node: ESTree.Node): boolean {
  if (node.type === 'Identifier') {
    if (isContextName(node.name)) return true;
    const v = findVariable(context, node, node.name);
    const def = v?.defs[0];
    if (def?.type === 'Variable') {
      const d = def.node as ESTree.VariableDeclarator;
      if (d.init?.type === 'CallExpression') {
        const n = leashNameOf(context, d.init.callee);
        if (n && CANCEL_PRODUCERS.has(n) && d.id.type === 'ArrayPattern') {
          const first = d.id.elements[0];
          if (first?.type === 'Identifier' && first.name === node.name) return true;
        }
        if (
          n === 'background' ||
          n === 'todo' ||
          n === 'contextOf' ||
          n === 'currentContext' ||
          n === 'withValue' ||
          n === 'withoutCancel'
        ) {
          return d.id.type === 'Identifier';
        }
      }
    }
    return isContextType(context, node) === true;
  }
  if (node.type === 'MemberExpression' && !node.computed && node.property.type === 'Identifier') {
    if (node.property.name === 'ctx') return true;
    return isContextType(context, node) === true;
  }
  if (node.type === 'CallExpression') {
    const n = leashNameOf(context, node.callee);
    return n === 'contextOf' || n === 'currentContext';
  }
  return false;
}
