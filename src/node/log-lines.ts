/**
 * Lines a node writes to its log that `dyn cluster up` and `status` read back from a folder's
 * node that no longer runs, to tell a node gone from the cluster from one that crashed. Shared,
 * so that the node's wording and the CLI's reading cannot drift apart.
 */

/** Logged once a node that left has handed every partition off; it then exits 0. */
export const leftClusterLogLine = 'left the cluster: every partition has been handed off'
