/**
 * Drawing `dyn bench`'s live progress on a terminal with the BenchProgress component; loaded
 * with a dynamic import by the command, so that ink loads only when there is a terminal to draw
 * on. It keeps each operation's throughput history of the current phase for the sparklines.
 */

import {Box, render} from 'ink'
import type {ProgressSnapshot} from '../../bench/runner.js'
import {BenchProgress} from '../ui/bench-progress.js'
import {terminalSize} from './terminal.js'

/** Progress updates remembered per operation (4 a second: the last 30 s). */
export const throughputHistoryMax = 120

export interface ProgressScreen {
  readonly update: (snapshot: ProgressSnapshot) => void
  readonly stop: () => void
}

export function startBenchScreen(stream: NodeJS.WriteStream): ProgressScreen {
  let phase = ''
  let history: Record<string, number[]> = {}
  let last: {elapsedS: number; counts: Map<string, number>} | undefined
  const view = (snapshot: ProgressSnapshot): React.JSX.Element => {
    // A new phase starts a new history; the final 'done' keeps the run's.
    if (snapshot.phase !== phase && snapshot.phase !== 'done') {
      phase = snapshot.phase
      history = {}
      last = undefined
    }
    // The throughput of the last interval, not the average so far: a stall must show.
    const counts = new Map(snapshot.operations.map((op) => [op.operation as string, op.count]))
    const intervalS = last === undefined ? 0 : snapshot.elapsedS - last.elapsedS
    if (last !== undefined && intervalS > 0 && snapshot.phase !== 'done') {
      for (const op of snapshot.operations) {
        const rate = (op.count - (last.counts.get(op.operation) ?? 0)) / intervalS
        const series = [...(history[op.operation] ?? []), rate]
        history[op.operation] = series.slice(-throughputHistoryMax)
      }
    }
    last = {elapsedS: snapshot.elapsedS, counts}
    // A terminal that reports no size (a pseudo-terminal made by `script` or `docker run -t`
    // without one) gives ink a width of 0, which wrapped every character onto a line of its own:
    // the screen is as wide as terminalSize says, 80 columns when the terminal does not say.
    return (
      <Box width={terminalSize(stream).columns} flexDirection="column">
        <BenchProgress snapshot={{...snapshot, throughputHistory: history}} />
      </Box>
    )
  }
  // Nothing is drawn before the run's first snapshot: the runner sends 'starting' once the nodes
  // answered and the flags passed, and a screen drawn at once said "starting" above a refusal
  // (an unreachable node), which a user read as a run that had begun.
  let instance: ReturnType<typeof render> | undefined
  return {
    update: (snapshot) => {
      if (instance === undefined) instance = render(view(snapshot), {stdout: stream, patchConsole: false})
      else instance.rerender(view(snapshot))
    },
    stop: () => instance?.unmount(),
  }
}
