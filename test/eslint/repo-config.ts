// The flat config the repository is linted with by the leash plug-in, shared by the corpus test
// (test/eslint/corpus.test.ts) and the benchmark (bench/eslint.bench.ts). The plug-in is loaded
// from source: the point is the rules, not the build.
import type { Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import leash from '../../src/eslint/index.js';

/**
 * leash's own code imports leash by relative paths (`../context/index.js`, demo's
 * `../src/http/index.js`); this setting makes the rules treat those imports as leash's.
 */
export const settings = { leash: { modules: ['^(\\.\\./)+(src/)?(context|task|http)/index\\.js$'] } };

/** baseConfig parses TypeScript with typescript-eslint (no type information: the fast path). */
export const baseConfig: Linter.Config[] = [
  { files: ['**/*.ts', '**/*.mts'], languageOptions: { parser: tseslint.parser as Linter.Parser } },
  { files: ['**/*.js', '**/*.mjs', '**/*.ts', '**/*.mts'] },
];

/** withLeash is baseConfig plus the plug-in's recommended rules. */
export const withLeash: Linter.Config[] = [...baseConfig, { ...leash.configs.recommended, settings }];
