/**
 * Drawing `dyn top`: the live, interactive screen on a terminal, or one snapshot as text. Kept
 * apart from commands/top.ts so that ink and react load only when something is drawn (the
 * command imports this module dynamically).
 */

import {render, renderToString} from 'ink'
import type {ClusterSnapshot} from '../ui/cluster-snapshot.js'
import {TopApp} from '../ui/top-app.js'
import {TopView} from '../ui/top-view.js'
import {watchCluster} from './cluster-watch.js'
import type {ClusterWatch} from './cluster-watch.js'
import {terminalSize} from './terminal.js'

const enterAlternateScreen = '\u001B[?1049h'
const leaveAlternateScreen = '\u001B[?1049l'

/** The live view until the viewer presses q (or ctrl-c); on the alternate screen, as top does, so the shell's screen comes back after. */
export async function runTopScreen(watch: ClusterWatch, intervalMs: number): Promise<void> {
  const controller = new AbortController()
  let latest: ClusterSnapshot | undefined
  let quit: () => void = () => undefined
  const quitting = new Promise<void>((resolve) => {
    quit = resolve
  })
  const onFocus = (name: string | undefined): void => {
    watch.focus = name
  }
  const element = (): React.JSX.Element => {
    const size = terminalSize()
    return <TopApp snapshot={latest} width={size.columns} height={size.rows} onQuit={quit} onFocus={onFocus} />
  }
  process.stdout.write(enterAlternateScreen)
  const instance = render(element(), {exitOnCtrlC: false, patchConsole: false})
  const redraw = (): void => instance.rerender(element())
  process.stdout.on('resize', redraw)
  const loop = watchCluster(watch, intervalMs, (snapshot) => {
    latest = snapshot
    redraw()
  }, controller.signal)
  try {
    await Promise.race([quitting, loop])
  } finally {
    controller.abort()
    process.stdout.off('resize', redraw)
    instance.unmount()
    await loop.catch(() => undefined)
    process.stdout.write(leaveAlternateScreen)
  }
}

/** One snapshot as text, `width` columns wide, for a pipe or a file. */
export function topText(snapshot: ClusterSnapshot, width: number, height: number): string {
  return `${renderToString(<TopView snapshot={snapshot} width={width} height={height} selected={0} mode="main" interactive={false} />, {columns: width})}\n`
}
