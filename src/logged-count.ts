/**
 * How often a condition that may repeat by the thousand is logged: the first time and at every
 * power of two, so that a flood of it cannot flood the log while its count still shows. Used by
 * every layer (the transport's refused connections, membership, hand-off, the store's compactions),
 * so it lives below them all.
 */

/** Whether the `count`th occurrence of something that may repeat by the thousand is logged: the first and every power of two. */
export function isLoggedCount(count: number): boolean {
  return (count & (count - 1)) === 0
}
