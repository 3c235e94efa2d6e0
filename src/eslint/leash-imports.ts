import type { Rule, Scope } from 'eslint';
import type * as ESTree from 'estree';

/**
 * The import sources whose bindings the rules recognise. `settings.leash.modules` (an array of
 * regular expressions as strings) adds more, for code that imports leash by a relative path (the
 * repository's own demo does: `../src/context/index.js`).
 */
const LEASH_SOURCES = new Set(['leashjs', 'leashjs/task', 'leashjs/http']);

/** Every public name the rules look for, so that a file without imports (a snippet) still matches. */
const KNOWN_NAMES = new Set([
  'withCancel',
  'withCancelCause',
  'withTimeout',
  'withTimeoutCause',
  'withDeadline',
  'withDeadlineCause',
  'fromSignal',
  'signalContext',
  'background',
  'todo',
  'abortable',
  'contextOf',
  'currentContext',
  'go',
  'select',
  'withoutCancel',
  'withValue',
  'sleep',
]);

/** The functions that return `[Context, cancel]`. */
export const CANCEL_PRODUCERS = new Set([
  'withCancel',
  'withCancelCause',
  'withTimeout',
  'withTimeoutCause',
  'withDeadline',
  'withDeadlineCause',
  'fromSignal',
  'signalContext',
]);

const extraSourcesCache = new WeakMap<object, RegExp[]>();

function extraSources(context: Rule.RuleContext): RegExp[] {
  const settings = context.settings as { leash?: { modules?: unknown } } | undefined;
  const list = settings?.leash?.modules;
  if (!Array.isArray(list) || !settings) return [];
  let cached = extraSourcesCache.get(settings);
  if (!cached) {
    cached = list.filter((s): s is string => typeof s === 'string').map((s) => new RegExp(s));
    extraSourcesCache.set(settings, cached);
  }
  return cached;
}

/** isLeashSource reports whether an import specifier names one of leash's modules. */
export function isLeashSource(context: Rule.RuleContext, source: unknown): boolean {
  if (typeof source !== 'string') return false;
  if (LEASH_SOURCES.has(source)) return true;
  for (const re of extraSources(context)) if (re.test(source)) return true;
  return false;
}

/** findVariable looks a name up from the scope around `node` outwards; undefined for a global. */
export function findVariable(
  context: Rule.RuleContext,
  node: ESTree.Node,
  name: string,
): Scope.Variable | undefined {
  let scope: Scope.Scope | null = context.sourceCode.getScope(node);
  while (scope) {
    const v = scope.set.get(name);
    if (v) return v;
    scope = scope.upper;
  }
  return undefined;
}

function requireSource(init: ESTree.Node | null | undefined): string | undefined {
  if (
    init?.type === 'CallExpression' &&
    init.callee.type === 'Identifier' &&
    init.callee.name === 'require' &&
    init.arguments[0]?.type === 'Literal'
  ) {
    const v = init.arguments[0].value;
    return typeof v === 'string' ? v : undefined;
  }
  return undefined;
}

type Binding =
  | { kind: 'name'; name: string }
  | { kind: 'namespace' }
  | { kind: 'other' }
  | { kind: 'global' };

/** bindingOf says what an identifier refers to: a leash export (by its exported name), a leash namespace, or something else. */
export function bindingOf(context: Rule.RuleContext, id: ESTree.Identifier): Binding {
  const v = findVariable(context, id, id.name);
  if (!v) return { kind: 'global' };
  const def = v.defs[0];
  if (!def) return { kind: 'global' };
  if (def.type === 'ImportBinding') {
    const decl = def.parent as ESTree.ImportDeclaration;
    if (!isLeashSource(context, decl.source.value)) return { kind: 'other' };
    const spec = def.node as
      | ESTree.ImportSpecifier
      | ESTree.ImportNamespaceSpecifier
      | ESTree.ImportDefaultSpecifier;
    if (spec.type === 'ImportSpecifier') {
      const imported = spec.imported;
      return { kind: 'name', name: imported.type === 'Identifier' ? imported.name : String(imported.value) };
    }
    return { kind: 'namespace' };
  }
  if (def.type === 'Variable') {
    const declarator = def.node as ESTree.VariableDeclarator;
    const src = requireSource(declarator.init);
    if (src === undefined || !isLeashSource(context, src)) return { kind: 'other' };
    if (declarator.id.type === 'Identifier') return { kind: 'namespace' };
    if (declarator.id.type === 'ObjectPattern') {
      for (const p of declarator.id.properties) {
        if (p.type === 'Property' && p.value.type === 'Identifier' && p.value.name === id.name) {
          if (p.key.type === 'Identifier') return { kind: 'name', name: p.key.name };
        }
      }
    }
  }
  return { kind: 'other' };
}

/**
 * leashNameOf returns the leash export a callee refers to (`withCancel`, also when imported as
 * `import { withCancel as wc }` or called as `leash.withCancel`), or undefined. An identifier that
 * is not declared anywhere in the file matches by its name, so that snippets without imports are
 * still checked; one declared locally or imported from another module never matches.
 */
export function leashNameOf(context: Rule.RuleContext, callee: ESTree.Node): string | undefined {
  if (callee.type === 'Identifier') {
    // The scope lookup below is the costly part: most calls are rejected by name first.
    if (!KNOWN_NAMES.has(callee.name) && !importsOf(context).names.has(callee.name)) return undefined;
    const b = bindingOf(context, callee);
    if (b.kind === 'name') return b.name;
    if (b.kind === 'global' && KNOWN_NAMES.has(callee.name)) return callee.name;
    return undefined;
  }
  if (callee.type === 'MemberExpression' && !callee.computed && callee.property.type === 'Identifier') {
    if (callee.object.type !== 'Identifier') return undefined;
    if (!importsOf(context).namespaces.has(callee.object.name)) return undefined;
    const b = bindingOf(context, callee.object);
    if (b.kind === 'namespace') return callee.property.name;
  }
  return undefined;
}

interface FileImports {
  /** Local names bound to a leash export (aliases included). */
  names: Set<string>;
  /** Local names bound to a whole leash module (`import * as leash`, `const leash = require(...)`). */
  namespaces: Set<string>;
}

const fileImports = new WeakMap<object, FileImports>();

/** importsOf lists, once per file, the names its top level binds to leash. */
function importsOf(context: Rule.RuleContext): FileImports {
  const program = context.sourceCode.ast;
  let info = fileImports.get(program);
  if (info) return info;
  info = { names: new Set(), namespaces: new Set() };
  for (const stmt of program.body) {
    if (stmt.type === 'ImportDeclaration') {
      if (!isLeashSource(context, stmt.source.value)) continue;
      for (const spec of stmt.specifiers) {
        if (spec.type === 'ImportSpecifier') info.names.add(spec.local.name);
        else info.namespaces.add(spec.local.name);
      }
    } else if (stmt.type === 'VariableDeclaration') {
      for (const d of stmt.declarations) {
        const src = requireSource(d.init);
        if (src === undefined || !isLeashSource(context, src)) continue;
        if (d.id.type === 'Identifier') info.namespaces.add(d.id.name);
        else if (d.id.type === 'ObjectPattern') {
          for (const p of d.id.properties)
            if (p.type === 'Property' && p.value.type === 'Identifier') info.names.add(p.value.name);
        }
      }
    }
  }
  fileImports.set(program, info);
  return info;
}

/**
 * mentionsAny: the file's text contains one of the words. A rule whose subject never appears in a
 * file registers no listeners for it; a plain substring search is far cheaper than the traversal.
 */
export function mentionsAny(text: string, words: Iterable<string>): boolean {
  for (const w of words) if (text.includes(w)) return true;
  return false;
}

/** isBackgroundCall: `background()` or `todo()` from leash. */
export function isBackgroundCall(context: Rule.RuleContext, node: ESTree.Node | null | undefined): boolean {
  if (node?.type !== 'CallExpression') return false;
  const name = leashNameOf(context, node.callee);
  return name === 'background' || name === 'todo';
}
