// RuleTester wired to node:test, with the two parsers the rules must work under: espree (plain
// JavaScript modules) and typescript-eslint's parser (TypeScript, without type information).
import { after, describe, it } from 'node:test';
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
void after;

/** jsTester lints plain ES2025 modules with espree. */
export const jsTester = new RuleTester({
  languageOptions: { ecmaVersion: 'latest', sourceType: 'module' },
});

/** tsTester lints TypeScript with typescript-eslint's parser and no program (syntactic only). */
export const tsTester = new RuleTester({
  languageOptions: { parser: tseslint.parser, ecmaVersion: 'latest', sourceType: 'module' },
});
