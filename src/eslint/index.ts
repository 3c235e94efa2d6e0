// leashjs/eslint: lint rules for the Context misuses that leak (the cancel that is never called,
// the request that starts work on background(), the race that never unregisters, the loop that
// never looks at its context). Nothing from the rest of leash is imported at run time: the rules
// recognise leash by its import specifiers, so the plug-in loads with eslint alone, and with
// typescript-eslint's type information when a project provides it.
import type { ESLint, Linter, Rule } from 'eslint';
import { contextFirst } from './rules/context-first.js';
import { loopChecksContext } from './rules/loop-checks-context.js';
import { lostCancel } from './rules/lost-cancel.js';
import { noBackgroundInRequest } from './rules/no-background-in-request.js';
import { noOrphanResource } from './rules/no-orphan-resource.js';
import { noRaceWithDone } from './rules/no-race-with-done.js';
import { unboundedWait } from './rules/unbounded-wait.js';

/** rules maps each rule's name (without the `leash/` prefix) to its module. */
export const rules: Record<string, Rule.RuleModule> = {
  'lost-cancel': lostCancel,
  'no-background-in-request': noBackgroundInRequest,
  'no-race-with-done': noRaceWithDone,
  'loop-checks-context': loopChecksContext,
  'context-first': contextFirst,
  'unbounded-wait': unboundedWait,
  'no-orphan-resource': noOrphanResource,
};

interface LeashPlugin extends ESLint.Plugin {
  meta: { name: string; version: string; namespace: string };
  rules: Record<string, Rule.RuleModule>;
  configs: { recommended: Linter.Config };
}

/**
 * plugin is the flat-config plug-in object. `plugin.configs.recommended` turns every rule on
 * (lost-cancel, no-background-in-request, no-race-with-done, unbounded-wait and no-orphan-resource
 * as errors; loop-checks-context and context-first as warnings) for the files the config applies to.
 *
 * @example
 * // eslint.config.js
 * import leash from 'leashjs/eslint';
 * export default [leash.configs.recommended];
 */
const plugin: LeashPlugin = {
  meta: { name: 'leashjs/eslint', version: '0.1.0', namespace: 'leash' },
  rules,
  configs: { recommended: {} as Linter.Config },
};

plugin.configs.recommended = {
  name: 'leash/recommended',
  plugins: { leash: plugin },
  rules: {
    'leash/lost-cancel': 'error',
    'leash/no-background-in-request': 'error',
    'leash/no-race-with-done': 'error',
    'leash/unbounded-wait': 'error',
    'leash/no-orphan-resource': 'error',
    'leash/loop-checks-context': 'warn',
    'leash/context-first': 'warn',
  },
};

/** configs holds the shareable configurations; `recommended` is the one to start from. */
export const configs = plugin.configs;
/** meta names the plug-in for ESLint's cache and error messages. */
export const meta = plugin.meta;
export default plugin;
