/**
 * What a member's or a machine's name may be (paper §4.8's membership names the nodes; §4.3's
 * preference lists name the machines they run on): both appear in logs, paths, version-vector
 * actors and `dyn cluster status`, so both take the same plain characters.
 */
export const namePattern = /^[A-Za-z0-9_.-]{1,64}$/
