// Types for scripts/extract-examples.mjs, for the tests that import it (test/package/docs.test.ts).
export interface Example {
  /** File-name-safe id: `readme-L28`, `docs-task-L242`. */
  name: string;
  /** `README.md:28`: the line of the opening fence. */
  source: string;
  lang: 'ts' | 'js';
  code: string;
  /** <!-- not-runnable: reason --> */
  skip?: string;
  /** <!-- typecheck-only: reason --> */
  typecheckOnly?: string;
  /** <!-- min-node: N reason --> */
  minNode?: number;
  reason?: string;
  /** <!-- until-sigterm: port=N get=/path --> */
  untilSigterm?: { port: number | undefined; gets: Array<{ path: string; status: number | undefined }> };
}
export function markdownFiles(): string[];
export function examplesOf(file: string): Example[];
export function allExamples(): Example[];
export function writeExamples(dir: string): Array<Omit<Example, 'code'> & { file: string }>;
