#!/usr/bin/env node
// Writes oclif.manifest.json after `tsc`: the list of commands with their flags, args and help
// texts, which @oclif/core reads at start-up instead of importing every command file (bench
// alone pulls in ink, react and autocannon). It is what `oclif manifest` does, with the Plugin
// class of the @oclif/core we already depend on. The file is generated, so it stays out of git.
//
// Then dist/fast-commands.json: the table of bin/run.js's start-up fast path (src/cli/fast-path.ts),
// each fast command's flags and arguments derived from its oclif class (src/cli/fast-spec.ts),
// empty when a plugin registers a hook that runs around commands. A definition the fast path
// cannot read exactly as oclif does fails the build here, saying why.
import {writeFile} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {Config, Plugin} from '@oclif/core'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
// ignoreManifest: build the list from dist/commands even when an older manifest is present.
const plugin = new Plugin({root, type: 'core', isRoot: true, ignoreManifest: true, errorOnManifestCreate: true, respectNoCacheDefault: true})
await plugin.load()
const commandCount = Object.keys(plugin.manifest.commands).length
if (commandCount === 0) throw new Error(`no commands found under ${path.join(root, 'dist/commands')}: run tsc first`)
await writeFile(path.join(root, 'oclif.manifest.json'), `${JSON.stringify(plugin.manifest, null, 2)}\n`)
process.stdout.write(`oclif.manifest.json: ${commandCount} commands\n`)

const {fastCommandIds, fastTableUrl} = await import(path.join(root, 'dist/src/cli/fast-path.js'))
const {fastTable} = await import(path.join(root, 'dist/src/cli/fast-spec.js'))
// Every plugin's hooks, as oclif will load them (the root and @oclif/plugin-help).
const config = await Config.load(root)
const hooksByPlugin = new Map(config.getPluginsList().map((loaded) => [loaded.name, Object.keys(loaded.hooks ?? {})]))
const commands = await Promise.all(fastCommandIds.map((id) => plugin.findCommand(id, {must: true})))
const table = fastTable(commands, hooksByPlugin)
await writeFile(fastTableUrl, `${JSON.stringify(table, null, 2)}\n`)
process.stdout.write(`${path.relative(root, fileURLToPath(fastTableUrl))}: ${table.disabled ?? `fast path for ${Object.keys(table.commands).join(', ')}`}\n`)
