/**
 * What the commands that draw need to know about the terminal, decided before ink is loaded:
 * whether this is an interactive terminal, and whether colours are allowed. Colours appear only
 * on a terminal, never with NO_COLOR (https://no-color.org: set and not empty) or --json.
 * ink colours through chalk, which reads FORCE_COLOR once when it is first loaded, so
 * `settleColors` must run before the first dynamic import of ink.
 */

export function isInteractive(): boolean {
  return process.stdout.isTTY === true && process.stdin.isTTY === true && !inContinuousIntegration()
}

/**
 * Whether this runs under a CI service (CI or CONTINUOUS_INTEGRATION set, not to 0 or false, as
 * the is-in-ci package that ink uses decides): there ink draws only a screen's last frame, so a
 * live screen would look frozen, and the commands print their plain form instead.
 */
export function inContinuousIntegration(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.CI === '0' || env.CI === 'false') return false
  return 'CI' in env || 'CONTINUOUS_INTEGRATION' in env || Object.keys(env).some((name) => name.startsWith('CI_'))
}

export function colorsWanted(json: boolean, stream: NodeJS.WriteStream = process.stdout): boolean {
  if (json) return false
  const noColor = process.env.NO_COLOR
  if (noColor !== undefined && noColor !== '') return false
  return stream.isTTY === true
}

/** Make chalk (and so ink) follow `colorsWanted`; call before importing ink. */
export function settleColors(json: boolean, stream: NodeJS.WriteStream = process.stdout): void {
  if (!colorsWanted(json, stream)) process.env.FORCE_COLOR = '0'
}

/** The terminal's size, with 80 × 24 where it is not known (a pipe, a file). */
export function terminalSize(stream: NodeJS.WriteStream = process.stdout): {columns: number; rows: number} {
  return {columns: stream.columns > 0 ? stream.columns : 80, rows: stream.rows > 0 ? stream.rows : 24}
}
