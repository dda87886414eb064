/**
 * How long `dyn bench` and `bench:compare` warm up before measuring, unless told: the same load,
 * unmeasured, so that connections are open and hot paths compiled when measuring starts.
 */

/** A closed loop's warm-up, in seconds: a slow start only slows it down. */
export const warmupSClosedDefault = 2

/**
 * An open loop's warm-up, in seconds. An open loop times each operation from when it was due,
 * so whatever is still slow in its first seconds lands on every operation due meanwhile. Started
 * right after the load, the mix at half the closed loop's rate was still settling 2 s in: after
 * 2 s, the first measured second's p99.9 was 64 to 192 ms, the run's worst in five runs of six;
 * after 5 s, 12 to 63 ms, the worst in none of four (bench/README.md, "Half capacity, on a
 * machine the nodes share").
 */
export const warmupSOpenDefault = 5

/** The warm-up of a loop not told one. */
export function warmupSDefaultOf(loop: 'closed' | 'open'): number {
  return loop === 'open' ? warmupSOpenDefault : warmupSClosedDefault
}
