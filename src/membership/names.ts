/**
 * What a member's or a machine's name may be (paper §4.8's membership names the nodes; §4.3's
 * preference lists name the machines they run on): both appear in logs, paths, version-vector
 * actors and `dyn cluster status`, so both take the same plain characters.
 */
export const namePattern = /^[A-Za-z0-9_.-]{1,64}$/

/**
 * The order people read names in: runs of digits compare as numbers (n2 before n10), the rest by
 * code unit, as `compareNames` (src/ring/claim.ts) does. For display only: the claim, the
 * claimant and every other order nodes must agree on keep `compareNames`, which a change here
 * must never reach, since n10 before n2 is part of where partitions go.
 */
export function compareNamesNaturally(a: string, b: string): number {
  const parts = (name: string): string[] => name.match(/\d+|\D+/g) ?? []
  const left = parts(a)
  const right = parts(b)
  // Bounded by the shorter name's parts; names are at most 64 characters (namePattern).
  for (let i = 0; i < Math.min(left.length, right.length); i += 1) {
    const x = left[i] as string
    const y = right[i] as string
    const numeric = /^\d/.test(x) && /^\d/.test(y)
    // Digit runs by value (no Number: a run may be longer than a safe integer), then by length,
    // so that n01 and n1 still have an order of their own.
    const order = numeric ? compareDigits(x.replace(/^0+/, ''), y.replace(/^0+/, '')) || x.length - y.length : x < y ? -1 : x > y ? 1 : 0
    if (order !== 0) return Math.sign(order)
  }
  return left.length !== right.length ? Math.sign(left.length - right.length) : a < b ? -1 : a > b ? 1 : 0
}

/** Two runs of digits without leading zeros, by value: the longer is larger, else code-unit order. */
function compareDigits(x: string, y: string): number {
  if (x.length !== y.length) return x.length - y.length
  return x < y ? -1 : x > y ? 1 : 0
}
