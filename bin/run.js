#!/usr/bin/env node
// The `dyn` executable: hands the command line to oclif, which loads the compiled commands from dist/commands.
import {execute} from '@oclif/core'

await execute({dir: import.meta.url})
