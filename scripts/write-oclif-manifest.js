#!/usr/bin/env node
// Writes oclif.manifest.json after `tsc`: the list of commands with their flags, args and help
// texts, which @oclif/core reads at start-up instead of importing every command file (bench
// alone pulls in ink, react and autocannon). It is what `oclif manifest` does, with the Plugin
// class of the @oclif/core we already depend on. The file is generated, so it stays out of git.
import {writeFile} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {Plugin} from '@oclif/core'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
// ignoreManifest: build the list from dist/commands even when an older manifest is present.
const plugin = new Plugin({root, type: 'core', isRoot: true, ignoreManifest: true, errorOnManifestCreate: true, respectNoCacheDefault: true})
await plugin.load()
const commandCount = Object.keys(plugin.manifest.commands).length
if (commandCount === 0) throw new Error(`no commands found under ${path.join(root, 'dist/commands')}: run tsc first`)
await writeFile(path.join(root, 'oclif.manifest.json'), `${JSON.stringify(plugin.manifest, null, 2)}\n`)
process.stdout.write(`oclif.manifest.json: ${commandCount} commands\n`)
