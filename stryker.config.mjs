// Mutation testing of the pure cores with StrykerJS: `npm run mutate` (not part of CI).
// See docs/mutation-testing.md for how to read a run and the mutants we accept as equivalent.
//
// How it runs: Stryker copies the project into .stryker-tmp/, writes every mutant into the
// TypeScript of the files below at once (each behind a switch), compiles the copy once with tsc
// (`buildCommand`: only the cores' unit tests and what they import), and then, per mutant, runs the compiled unit test files that reached its
// code in the first (coverage) run, one node process per file (the tap runner reads node:test's
// TAP output). The TypeScript checker first drops the mutants that would not compile.
import {readFileSync} from 'node:fs'

/**
 * tsconfig.mutate.json lists both what a run mutates (the pure cores, under src/) and the unit
 * tests it runs (under test/): it compiles and type-checks only these and what they import.
 */
const included = JSON.parse(readFileSync(new URL('./tsconfig.mutate.json', import.meta.url), 'utf8')).include
const coreSources = included.filter((pattern) => pattern.startsWith('src/'))
const coreTests = included.filter((pattern) => pattern.startsWith('test/'))

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  mutate: coreSources,
  testRunner: 'tap',
  tap: {
    // The unit tests of the cores themselves (listed in tsconfig.mutate.json), and only those: a
    // mutant is run against the files among these that reached its code in the first (coverage)
    // run, in this order, stopping at the first that fails. The whole-node tests (assemble,
    // hinted handoff, transfers...) reach the cores too, but they are slower, and a core is to be
    // pinned down by its own tests: a mutant that only they kill is a behaviour of the core that
    // its own tests do not state.
    testFiles: coreTests.map((file) => `dist/${file.replace(/\.tsx?$/, '.js')}`),
    nodeArgs: ['--test-reporter=tap', '--import', './scripts/stryker-fast-check.mjs'],
  },
  buildCommand: 'tsc -p tsconfig.mutate.json',
  checkers: ['typescript'],
  plugins: ['@stryker-mutator/*', './scripts/stryker-ignore-assert-messages.mjs'],
  ignorers: ['assert-messages'],
  tsconfigFile: 'tsconfig.mutate.json',
  coverageAnalysis: 'perTest',
  // The machine is shared (2 cores): one test process at a time, beside the checker.
  concurrency: 1,
  ignorePatterns: ['dist', 'reports', 'oclif.manifest.json', '.dyn', '.stryker-tmp*'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: {fileName: 'reports/mutation/mutation.html'},
  jsonReporter: {fileName: 'reports/mutation/mutation.json'},
  thresholds: {high: 90, low: 80, break: null},
}
