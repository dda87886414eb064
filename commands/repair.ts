import {Flags} from '@oclif/core'
import {setTimeout as sleep} from 'node:timers/promises'
import {clientTlsFlags, jsonFlag, oneNodeFlag} from '../src/cli/client-flags.js'
import {DynCommand} from '../src/cli/command-base.js'
import {exitCodesHelp} from '../src/cli/exit-codes.js'
import {warn} from '../src/cli/format.js'
import {refusalText, refusingNotice, repairedIn, roundIsClean, stalledNotice, timeoutReason} from '../src/cli/repair-wait.js'
import type {RepairRound} from '../src/cli/repair-wait.js'

/** Rounds of --wait at most; each waits for the node's answer, and they stop at the first clean one. */
const waitRoundsMax = 1000
/** Pause between the rounds of --wait, so the node's repair budget refills. */
const waitPauseMs = 1000
/** How long --wait runs rounds, unless --max-wait-seconds says otherwise. */
const maxWaitSecondsDefault = 600

export default class Repair extends DynCommand {
  static override summary = "Compare a node's replicas with the other homes now, and repair what differs (anti-entropy)."

  static override description = `Every node already does this in the background, one peer at a time (paper §4.7); dyn repair runs it at once on the node you name, against every other home of each of its partitions, and reports what it compared and repaired. Each differing key is repaired both ways with the replica merge: no version is lost and none that was superseded comes back.
A round is bounded by the node's repair budget (keys per second); with --wait the command runs rounds until one finds every tree in sync (or --max-wait-seconds pass), which is how to know that a replaced disk has caught up. A round that repairs nothing while another home is down cannot be followed by a clean one until that home is back or removed: --wait says so on stderr, once, and goes on waiting. --max-wait-seconds is refused without --wait (bad_usage).
--node names one node (a list is refused: a node tried after one that does not answer would be repaired in its place).
A node whose store refuses what the repair sends it (storage_failed: a full or failing disk; object_too_large: one key's versions together pass the size limit, with the key) is named with its code in refusedBy; --wait says so once on stderr, with what to do, since no round can be clean until that is fixed.
--json prints {ok, node, trees, treesInSync, treesSkipped, peersDown, refusedBy, keysRepairedHere, keysRepairedThere, unfinished, rounds, exchanges}.
${exitCodesHelp}`

  static override examples = [
    {description: 'Repair everything n1 is a home of, once', command: '<%= config.bin %> repair --node 127.0.0.1:7070'},
    {description: 'After replacing a disk: repair until nothing differs', command: '<%= config.bin %> repair --node 127.0.0.1:7071 --wait'},
    {description: 'One partition, for a script', command: '<%= config.bin %> repair --partition 12 --json'},
    {description: 'A cluster with TLS', command: '<%= config.bin %> repair --node https://10.0.0.11:7070 --tls-ca ./tls/ca.crt --wait'},
  ]

  static override flags = {
    node: oneNodeFlag('the node that compares its replicas and repairs them'),
    ...clientTlsFlags,
    partition: Flags.integer({description: 'only this partition (see dyn ring); default: every partition the node is a home of', min: 0}),
    // No defaults here: oclif checks dependsOn against any value, a default included, so with
    // them --max-wait-seconds without --wait passed silently (a new user's walk).
    wait: Flags.boolean({description: 'run rounds until one finds every tree in sync'}),
    'max-wait-seconds': Flags.integer({description: `with --wait, give up after this many seconds (exit 3) [default: ${maxWaitSecondsDefault}]`, min: 1, dependsOn: ['wait']}),
    timeout: Flags.integer({description: 'give up on the node after this many milliseconds (a round may scan whole partitions)', default: 120_000, min: 1}),
    json: jsonFlag,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Repair)
    const client = this.oneNodeClientFor(flags, 'the node that compares and repairs its replicas is')
    const path = flags.partition === undefined ? '/repair' : `/repair?partition=${flags.partition}`
    const maxWaitSeconds = flags['max-wait-seconds'] ?? maxWaitSecondsDefault
    const deadlineMs = Date.now() + maxWaitSeconds * 1000
    const total = {here: 0, there: 0}
    let last: RepairRound = {}
    let rounds = 0
    // The homes down that the wait last said it waits for (stalledNotice).
    let saidFor: string | undefined
    // The homes refusing repairs that the wait last named (refusingNotice).
    let refusingSaidFor: string | undefined
    // The last round printed, without its number: a wait on a home that is down repeats the same
    // round every second, which is printed once (the notice says what it waits for).
    let printedShape: string | undefined
    for (; rounds < (flags.wait === true ? waitRoundsMax : 1); ) {
      let answer
      try {
        answer = await client.postJson(path)
      } catch (error) {
        this.failFromError(flags.json, error)
      }
      if (!answer.ok) this.fail(flags.json, answer.error, answer.message)
      rounds += 1
      last = answer.body as RepairRound
      total.here += last.keysRepairedHere ?? 0
      total.there += last.keysRepairedThere ?? 0
      const shape = formatRound(0, last)
      if (!flags.json && (shape !== printedShape || repairedIn(last) > 0)) process.stdout.write(`${formatRound(rounds, last)}\n`)
      printedShape = shape
      if (flags.wait !== true || roundIsClean(last)) break
      if (Date.now() + waitPauseMs > deadlineMs) this.fail(flags.json, 'timeout', timeoutReason(last, rounds), {peersDown: last.peersDown ?? [], refusedBy: last.refusedBy ?? []})
      // Said once for each set of homes down, on stderr (stdout stays the rounds, or one JSON object).
      const stalled = stalledNotice(last, rounds, saidFor, maxWaitSeconds)
      if (stalled !== undefined) {
        warn(stalled.text)
        saidFor = stalled.key
      }
      const refusing = refusingNotice(last, rounds, refusingSaidFor, maxWaitSeconds)
      if (refusing !== undefined) {
        warn(refusing.text)
        refusingSaidFor = refusing.key
      }
      await sleep(waitPauseMs)
    }
    if (flags.json) {
      this.printOk({...last, keysRepairedHere: total.here, keysRepairedThere: total.there, rounds})
      return
    }
    if (flags.wait === true) process.stdout.write(`in sync after ${rounds} round(s): ${total.here} key(s) repaired on ${last.node ?? 'the node'}, ${total.there} on its peers\n`)
  }
}

function formatRound(round: number, body: RepairRound): string {
  const differing = (body.exchanges ?? []).filter((exchange) => exchange.differingKeys > 0)
  const lines = [
    // "Compared" would count the trees of a home that is down, which were not compared at all: the
    // total comes first and is then split by what happened to each tree.
    `round ${round} on ${body.node ?? '?'}: ${body.trees ?? 0} tree(s): ${body.treesInSync ?? 0} in sync, ${differing.length} differing, ${body.treesSkipped ?? 0} not compared${(body.peersDown ?? []).length > 0 ? ` (${(body.peersDown ?? []).join(', ')} down)` : ''}; ` +
      `${(body.refusedBy ?? []).length > 0 ? `refused by ${(body.refusedBy ?? []).map(refusalText).join(', ')}; ` : ''}` +
      `${body.keysRepairedHere ?? 0} key(s) repaired here, ${body.keysRepairedThere ?? 0} on peers${body.unfinished === true ? ' (more to do)' : ''}`,
  ]
  for (const exchange of differing.slice(0, 20)) {
    lines.push(`  partition ${exchange.partition} n=${exchange.n} with ${exchange.peer}: ${exchange.differingKeys} differing, ${exchange.repairedHere} repaired here, ${exchange.repairedThere} there${exchange.refused === undefined ? '' : ` (refused by ${refusalText(exchange.refused)})`}`)
  }
  if (differing.length > 20) lines.push(`  … and ${differing.length - 20} more`)
  return lines.join('\n')
}
