// A StrykerJS ignorer plugin (`ignorers: ['assert-messages']` in stryker.config.mjs): it skips
// the message argument of `assert(condition, message)` calls. The message only names a
// programmer error for whoever reads the crash; tests assert that an assertion fires, not its
// wording (STYLE.md: assert the code, not the message), so a mutant that blanks the message
// says nothing about the tests. The condition, the first argument, is still mutated.
import {PluginKind, declareValuePlugin} from '@stryker-mutator/api/plugin'

const assertMessages = {
  shouldIgnore(path) {
    const parent = path.parentPath
    if (parent === null || parent === undefined || !parent.isCallExpression()) return undefined
    if (path.listKey !== 'arguments' || path.key !== 1) return undefined
    const callee = parent.node.callee
    if (callee.type !== 'Identifier' || callee.name !== 'assert') return undefined
    return 'the message of an assertion (it fires or not the same way whatever it says)'
  },
}

export const strykerPlugins = [declareValuePlugin(PluginKind.Ignore, 'assert-messages', assertMessages)]
