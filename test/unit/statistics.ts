// Statistical assertions shared by the tests of random generators (distributions, workload mixes).

import assert from 'node:assert/strict'

/**
 * A count of `draws` Bernoulli trials with success `probability` must lie within 6 standard
 * deviations of its mean: loose enough never to flake with fixed seeds, tight enough to catch a
 * generator that is off by a few percent over enough draws.
 */
export function assertFrequency(count: number, draws: number, probability: number, what: string): void {
  const expected = draws * probability
  const tolerance = 6 * Math.sqrt(draws * probability * (1 - probability))
  assert.ok(
    Math.abs(count - expected) <= tolerance,
    `${what}: counted ${count} in ${draws} draws, expected ${expected.toFixed(1)} ± ${tolerance.toFixed(1)}`,
  )
}
