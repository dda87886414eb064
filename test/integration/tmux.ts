/**
 * A real pseudo-terminal for end-to-end tests of the screens: a command run in a detached tmux
 * session of a fixed size, read with capture-pane and driven with send-keys. Each session has a
 * tmux server of its own, on a socket in a temporary folder; `stop` kills that server and removes
 * the folder, so nothing outlives the test.
 */

import {execFile} from 'node:child_process'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'
import {sleep} from './harness.js'

const run = promisify(execFile)

/** How often, and how many times at most, `waitFor` reads the screen. */
export const capturePollMs = 100
export const captureAttemptsMax = 400

export class TmuxSession {
  private constructor(
    private readonly folder: string,
    private readonly socket: string,
    private readonly name: string,
  ) {}

  /** The tmux server's pid, so that `stop` can make sure it is gone. */
  private serverPid: number | undefined

  /**
   * Run `command` (argv, no shell syntax) in a new `width` × `height` session. After the
   * command ends, the session prints `exit=<code>` and stays, so its last screen can be read.
   */
  static async start(label: string, command: readonly string[], env: Record<string, string>, width = 80, height = 24): Promise<TmuxSession> {
    const folder = await mkdtemp(path.join(tmpdir(), 'dyn-test-tmux-'))
    const socket = path.join(folder, 'socket')
    const session = new TmuxSession(folder, socket, label)
    const quoted = command.map((part) => `'${part.replaceAll("'", "'\\''")}'`).join(' ')
    const assignments = Object.entries(env).map(([name, value]) => `${name}='${value.replaceAll("'", "'\\''")}'`).join(' ')
    // These sessions are real terminals, but CI's own run sets CI=true, under which ink draws only
    // a screen's last frame, colour detection turns colours off, and dyn prints its plain forms.
    const script = `env -u CI -u CONTINUOUS_INTEGRATION ${assignments} ${quoted}; echo "exit=$?"; sleep 600`
    try {
      await run('tmux', ['-S', socket, '-f', '/dev/null', 'new-session', '-d', '-s', label, '-x', String(width), '-y', String(height), 'sh', '-c', script])
      const {stdout} = await run('tmux', ['-S', socket, 'display-message', '-p', '#{pid}'])
      session.serverPid = Number(stdout.trim())
    } catch (error) {
      await session.stop()
      throw error
    }
    return session
  }

  /** The screen as text; with `escapes`, with its colour and style sequences too. */
  async capture(escapes = false): Promise<string> {
    const {stdout} = await run('tmux', ['-S', this.socket, 'capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', this.name])
    return stdout
  }

  /** Keys as tmux names them: 'q', 'Enter', 'Down', 'Escape'. */
  async sendKeys(...keys: string[]): Promise<void> {
    await run('tmux', ['-S', this.socket, 'send-keys', '-t', this.name, ...keys])
  }

  /** Read the screen until it matches `pattern` (bounded); the screen, or an error showing the last one. */
  async waitFor(pattern: RegExp, what: string): Promise<string> {
    let screen = ''
    for (let attempt = 0; attempt < captureAttemptsMax; attempt += 1) {
      screen = await this.capture()
      if (pattern.test(screen)) return screen
      await sleep(capturePollMs)
    }
    throw new Error(`the screen never showed ${what} (${pattern}); last screen:\n${screen}`)
  }

  async stop(): Promise<void> {
    await run('tmux', ['-S', this.socket, 'kill-server']).catch(() => undefined)
    if (this.serverPid !== undefined && Number.isInteger(this.serverPid)) {
      try {
        process.kill(this.serverPid, 'SIGKILL')
      } catch {
        // Already gone, as it should be after kill-server.
      }
    }
    await rm(this.folder, {recursive: true, force: true})
  }
}
