#!/usr/bin/env node
// The `dyn` executable. A plain `dyn get`, `put` or `delete` runs straight from here without
// loading oclif (src/cli/fast-path.ts: @oclif/core and its Config.load cost more than the read).
// Every other command line (help, other commands, topics, typos, anything the fast path is not
// sure to read as oclif would) goes to oclif, which finds the command in oclif.manifest.json
// (written by `npm run build`) and loads only that command's file. It imports @oclif/core's
// `execute` alone: the package's index also loads semver and more.
import {runFast} from '../dist/src/cli/fast-path.js'

if (!(await runFast(process.argv.slice(2)))) {
  const {execute} = await import('@oclif/core/execute')
  await execute({dir: import.meta.url})
}
