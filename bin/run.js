#!/usr/bin/env node
// The `dyn` executable: hands the command line to oclif, which finds the command in
// oclif.manifest.json (written by `npm run build`) and loads only that command's file.
// It imports @oclif/core's `execute` alone: the package's index also loads semver, the help
// renderer and more, a good part of a short command's start-up.
import {execute} from '@oclif/core/execute'

await execute({dir: import.meta.url})
