// RuleTester wired to node:test, with the two parsers the rules must work under: espree (plain
// JavaScript modules) and typescript-eslint's parser (TypeScript, without type information).
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RuleTester } from 'eslint';
import tseslint from 'typescript-eslint';

const tester = RuleTester as unknown as {
  describe: unknown;
  it: unknown;
  itOnly: unknown;
  afterAll?: unknown;
};
tester.describe = describe;
tester.it = it;
tester.itOnly = it.only;

/** jsTester lints plain ES2025 modules with espree. */
export const jsTester = new RuleTester({
  languageOptions: { ecmaVersion: 'latest', sourceType: 'module' },
});

/** tsTester lints TypeScript with typescript-eslint's parser and no program (syntactic only). */
export const tsTester = new RuleTester({
  languageOptions: { parser: tseslint.parser, ecmaVersion: 'latest', sourceType: 'module' },
});

const fixtures = fileURLToPath(new URL('../fixtures/typed/', import.meta.url));

/** typedFile is the file name type-aware cases lint as (inside the fixture project). */
export const typedFile = join(fixtures, 'file.ts');

/** typedTester lints TypeScript with a program: rules see types through parserServices. */
export const typedTester = new RuleTester({
  languageOptions: {
    parser: tseslint.parser,
    parserOptions: { projectService: true, tsconfigRootDir: fixtures },
  },
});
