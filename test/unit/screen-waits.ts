/**
 * Waiting in screen tests for what is expected rather than for a fixed time. Ink attaches its
 * input listener in an effect after the first render and hands input to components after the
 * current turn of the event loop, so a key written too early is lost and a frame read too early
 * is the previous one. A fixed wait was too short on a busy machine (issue 20); these wait for
 * the listener, the frame or the effect itself, bounded so that a test that is wrong fails.
 */

/** What a rendered ink app gives a test (ink-testing-library's render result). */
interface RenderedApp {
  readonly stdin: {listenerCount(event: string): number; write(data: string): void}
  lastFrame(): string | undefined
}

/** Long enough for any machine, short enough that a test that waits for the wrong thing fails. */
export const screenWaitMsMax = 10_000

/** Polls `holds` until it is true, failing with `what` after the bound. */
export async function waitUntil(what: string, holds: () => boolean, timeoutMs = screenWaitMsMax): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!holds()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

/** Resolves once the app listens for keys: before that, ink drops what stdin gets. */
export function inputReady(app: RenderedApp): Promise<void> {
  return waitUntil('the app listens for keys', () => app.stdin.listenerCount('readable') > 0)
}

/** The first frame that matches `pattern`, waiting for it (bounded); fails with the last frame seen. */
export async function frameMatching(app: RenderedApp, pattern: RegExp): Promise<string> {
  try {
    await waitUntil(`a frame matches ${pattern}`, () => pattern.test(app.lastFrame() ?? ''))
  } catch (error) {
    throw new Error(`${(error as Error).message}; the last frame was:\n${app.lastFrame() ?? '(none)'}`)
  }
  return app.lastFrame() ?? ''
}
