/**
 * Time and randomness as injectable inputs. Pure cores never call `Date.now` or `Math.random`;
 * they take a `Clock` or `Random` (or plain numbers) so that a simulation can drive them
 * deterministically. The real ones live in `src/node/system-time.ts`, for the process shell, the
 * CLI and bench/ only; simulated time is `simulated-time.ts`, seeded randomness is below.
 */

export interface Clock {
  /** Wall-clock milliseconds since the epoch: used for version timestamps and LWW. */
  nowMs(): number
  /** Monotonic milliseconds (arbitrary origin): used for timeouts and latency. */
  monotonicMs(): number
}

export interface Random {
  /** A float in [0, 1). */
  next(): number
  /** An integer in [0, bound). */
  int(bound: number): number
}

/** A seeded generator (mulberry32) for simulations and property tests that must replay. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {next, int: (bound: number) => Math.floor(next() * bound)}
}
