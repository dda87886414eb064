/**
 * Component tests of `dyn top` without a terminal (ink's renderToString, and ink-testing-library
 * for the keys): all nodes up, one down, a node that stopped answering mid-session, the watched
 * node failed over, a transfer in progress, hints served; each fits 80 × 24.
 */
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {renderToString} from 'ink'
import {render} from 'ink-testing-library'
import {frameMatching, inputReady, waitUntil} from './screen-waits.js'
import type {ClusterSnapshot, NodeRow} from '../../src/ui/cluster-snapshot.js'
import {TopApp} from '../../src/ui/top-app.js'
import {TopView} from '../../src/ui/top-view.js'
import {sparklineText} from '../../src/ui/sparkline.js'

function row(name: string, index: number, overrides: Partial<NodeRow> = {}): NodeRow {
  return {
    name,
    address: `127.0.0.1:${7070 + index}`,
    status: 'up',
    partitions: 21 + (index === 1 ? 1 : 0),
    answering: true,
    figures: {keys: 1200 + index, storeBytes: 3_000_000, getsPerS: 120, putsPerS: 40, getLatencyMs: {p99: 1.2, p999: 3.4}, putLatencyMs: {p99: 2.5, p999: 8}, eventLoopDelayP99Ms: 1.1, uptimeMs: 600_000, latencyBuckets: {boundsMs: [0.25, 0.5, 1, 2], counts: [0, 10, 40, 5, 1]}},
    history: {requestsPerS: [100, 120, 160, 90, 160], p999Ms: [3, 3.4, 9, 3.1, 3.4]},
    ...overrides,
  }
}

function snapshot(overrides: Partial<ClusterSnapshot> = {}): ClusterSnapshot {
  const names = ['n1', 'n2', 'n3']
  return {
    takenAtMs: Date.UTC(2026, 11, 1, 9, 30, 0),
    source: '127.0.0.1:7070',
    stale: false,
    settings: {n: 3, r: 2, w: 2},
    ringHash: 'b66349b7',
    owners: Array.from({length: 64}, (_, p) => names[p % 3] as string),
    moves: [],
    nodes: names.map((name, i) => row(name, i)),
    events: [{atMs: Date.UTC(2026, 11, 1, 9, 29, 58), text: 'watching 3 node(s) through 127.0.0.1:7070 (n1)', severity: 'info'}],
    ...overrides,
  }
}

function draw(s: ClusterSnapshot, width = 80, height = 24): string[] {
  return renderToString(<TopView snapshot={s} width={width} height={height} selected={0} mode="main" />, {columns: width}).split('\n')
}

function assertFits(lines: string[], width: number, height: number): void {
  assert.ok(lines.length <= height - 1, `${lines.length} lines for a ${height}-line terminal`)
  for (const line of lines) assert.ok([...line].length <= width, `too wide (${[...line].length}): ${line}`)
}

describe('TopView', () => {
  it('all up: a row per node with its figures, the ring, history and events, in 80 × 24', () => {
    const lines = draw(snapshot())
    assertFits(lines, 80, 24)
    const text = lines.join('\n')
    assert.match(text, /via 127\.0\.0\.1:7070 \(n1\)\s+3 nodes\s+N3 R2 W2/)
    assert.match(text, /NODE\s+ADDRESS\s+STATUS\s+PART\s+KEYS\s+GET\/S\s+PUT\/S\s+GET p99\/\.9\s+PUT p99\/\.9\s+LOOP/)
    assert.match(text, /n1\s+127\.0\.0\.1:7070\s+up\s+21\s+1\.2k\s+120\s+40\s+1\.2\/3\.4\s+2\.5\/8\.0\s+1\.1/)
    assert.match(text, /ring 64 partitions: {2}1 n1 22 {2}2 n2 21 {2}3 n3 21/)
    assert.match(text, /^(123){21}1$/m)
    assert.match(text, /09:29:58 watching 3 node\(s\)/)
    // No hints or transfers are served: no such columns, rather than zeros.
    assert.doesNotMatch(text, /HINTS|XFER/)
  })

  it('a member that left is listed on the line of those that left and not counted among the nodes in the header', () => {
    const s = snapshot({nodes: [row('n1', 0), row('n2', 1), row('n3', 2), row('n9', 3, {status: 'left', answering: false, partitions: 0, figures: {}})]})
    const text = draw(s).join('\n')
    assert.match(text, /via 127\.0\.0\.1:7070 \(n1\)\s+3 nodes\s+N3 R2 W2/)
    assert.match(text, /^ {2}1 left the cluster: n9\s*$/m)
    assert.doesNotMatch(text, /n9\s+127\.0\.0\.1:7073/)
    // The ring's legend names the owners now: the member that left owns nothing and is not one.
    assert.match(text, /ring 64 partitions: {2}1 n1 22 {2}2 n2 21 {2}3 n3 21$/m)
    assert.doesNotMatch(text, /ring 64 partitions:.*n9/)
  })

  it('members that left take one line, not a row each: the live nodes keep their rows, marks 1 to 3, history and events', () => {
    // Three live members and nine that left, as after a walk that added and removed nodes.
    const live = [row('n10', 0), row('n11', 1), row('n12', 2)]
    const departed = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9'].map((name, i) => row(name, 3 + i, {status: 'left', answering: false, partitions: 0, figures: {}}))
    const s = snapshot({nodes: [...departed, ...live], owners: Array.from({length: 64}, (_, p) => ['n10', 'n11', 'n12'][p % 3] as string)})
    for (const height of [24, 40]) {
      const lines = draw(s, 80, height)
      assertFits(lines, 80, height)
      const text = lines.join('\n')
      assert.match(text, /^ {2}9 left the cluster: n1 n2 n3 n4 n5 n6 n7 n8 n9\s*$/m)
      assert.doesNotMatch(text, /\sleft\s+0\s/, 'no row of its own for a member that left')
      // The strip's marks are the live members' places, not 7, a and b.
      assert.match(text, /ring 64 partitions: {2}1 n10 22 {2}2 n11 21 {2}3 n12 21$/m)
      assert.match(text, /^(123){21}1$/m)
      assert.match(text, /^n12\s+\S+\s+160/m, 'the history of the live nodes is on the screen')
      assert.match(text, /watching 3 node\(s\)/)
    }
  })

  it('one node down: its status says so and its figures are blank, not zero', () => {
    const s = snapshot({
      nodes: [row('n1', 0), row('n2', 1), row('n3', 2, {status: 'down', answering: false, figures: {}})],
      events: [{atMs: 0, text: 'n3 became unreachable', severity: 'error'}],
    })
    const text = draw(s).join('\n')
    assert.match(text, /n3\s+127\.0\.0\.1:7072\s+down\s+21\s+-\s+-\s+-\s+-\s+-/)
    assert.match(text, /n3 became unreachable/)
  })

  it('the watched node stopped answering: the view says where it watches through now', () => {
    const s = snapshot({source: '127.0.0.1:7071', failover: {from: '127.0.0.1:7070', to: '127.0.0.1:7071'}, nodes: [row('n1', 0, {status: 'down', answering: false, figures: {}}), row('n2', 1), row('n3', 2)]})
    const lines = draw(s)
    assertFits(lines, 80, 24)
    assert.match(lines.join('\n'), /127\.0\.0\.1:7070 stopped answering: now watching through 127\.0\.0\.1:7071/)
    const stale = draw({...s, stale: true}).join('\n')
    assert.match(stale, /no node answers: showing the last state seen/)
  })

  it('a transfer in progress: moving partitions marked, and the hints and transfer columns appear once served', () => {
    const s = snapshot({
      moves: [{partition: 0, from: 'n1', to: 'n3'}, {partition: 3, from: 'n1', to: 'n2'}],
      nodes: [row('n1', 0, {figures: {...row('n1', 0).figures, hintsPending: 12, transfersInProgress: 2}}), row('n2', 1, {figures: {...row('n2', 1).figures, hintsPending: 0, transfersInProgress: 1}}), row('n3', 2, {status: 'joining'})],
    })
    const lines = draw(s)
    assertFits(lines, 80, 24)
    const text = lines.join('\n')
    assert.match(text, /~ 2 moving/)
    assert.match(text, /^~23~231/m)
    assert.match(text, /HINTS\s+XFER/)
    assert.match(text, /n1 .*\s12\s+2$/m)
    // At 80 columns the address gives way to them (the detail panel still shows it).
    assert.match(text, /n3\s+joining\s+21/)
    assert.match(draw(s, 100).join('\n'), /n3\s+127\.0\.0\.1:7072\s+joining/)
  })

  // A local cluster's nodes on 5-digit ports, as `dyn cluster up` picks them: the widest
  // address the everyday 80 columns must still hold.
  const onHighPorts = (nodes: readonly NodeRow[]): NodeRow[] => nodes.map((node, i) => ({...node, address: `127.0.0.1:${17070 + i}`}))
  const withAdmission = (node: NodeRow, admission: {shedPerS?: number; admissionState: string}): NodeRow => ({...node, figures: {...node.figures, ...admission}})
  /** The screen of these nodes on 5-digit ports, checked to fit 80 × 24, as one text. */
  const drawnAt80 = (nodes: readonly NodeRow[]): string => {
    const lines = draw(snapshot({nodes: onHighPorts(nodes)}))
    assertFits(lines, 80, 24)
    return lines.join('\n')
  }

  it('no node sheds: no SHED column, and the address keeps its place within 80 columns', () => {
    const text = drawnAt80([
      withAdmission(row('n1', 0), {shedPerS: 0, admissionState: 'normal'}),
      withAdmission(row('n2', 1), {shedPerS: 0, admissionState: 'background-yields'}),
      withAdmission(row('n3', 2), {admissionState: 'normal'}),
    ])
    assert.doesNotMatch(text, /SHED/)
    assert.match(text, /NODE\s+ADDRESS\s+STATUS\s+PART\s+KEYS\s+GET\/S\s+PUT\/S\s+GET p99\/\.9\s+PUT p99\/\.9\s+LOOP/)
    assert.match(text, /^ {2}n2\s+127\.0\.0\.1:17071\s+up\s+22\s+1\.2k\s+120\s+40\s+1\.2\/3\.4\s+2\.5\/8\.0\s+1\.1\s*$/m)
  })

  it('a node shedding load: a SHED column with the rate of each node appears, and the address stays, within 80 columns', () => {
    const nodes = [
      withAdmission(row('n1', 0), {shedPerS: 1450, admissionState: 'shedding'}),
      withAdmission(row('n2', 1), {shedPerS: 0, admissionState: 'normal'}),
      withAdmission(row('n3', 2), {admissionState: 'background-yields'}),
    ]
    const text = drawnAt80(nodes)
    assert.match(text, /NODE\s+ADDRESS\s+STATUS\s+PART\s+KEYS\s+GET\/S\s+PUT\/S\s+GET p99\/\.9\s+PUT p99\/\.9\s+SHED\s*$/m)
    assert.match(text, /^▶ n1\s+127\.0\.0\.1:17070\s+up\s+21\s+1\.2k\s+120\s+40\s+1\.2\/3\.4\s+2\.5\/8\.0\s+1\.4k\s*$/m)
    assert.match(text, /^ {2}n2\s+127\.0\.0\.1:17071\s+up\s+.*\s0\s*$/m)
    assert.match(text, /^ {2}n3\s+127\.0\.0\.1:17072\s+up\s+.*\s-\s*$/m, 'no rate yet from one sample: a dash, not zero')
    // Wider, LOOP comes back beside it.
    assert.match(draw(snapshot({nodes: onHighPorts(nodes)}), 100).join('\n'), /SHED\s+LOOP/)
  })

  it('a node that shed since the last poll but no longer sheds still shows the column; none that never served admission figures', () => {
    const after = snapshot({nodes: onHighPorts([withAdmission(row('n1', 0), {shedPerS: 3, admissionState: 'normal'}), row('n2', 1), row('n3', 2)])})
    const lines = draw(after)
    assertFits(lines, 80, 24)
    assert.match(lines.join('\n'), /^▶ n1\s+127\.0\.0\.1:17070\s+up\s+.*\s3\s*$/m)
    assert.doesNotMatch(draw(snapshot()).join('\n'), /SHED/, 'left out while no node serves admission figures')
  })

  it('uses extra width for more columns and longer sparklines', () => {
    const wide = draw(snapshot(), 140, 40).join('\n')
    assert.match(wide, /STORE\s+UPTIME/)
    assert.match(wide, /2\.9 MiB\s+10m00s/)
  })

  it('a node whose store takes no writes shows rdonly, and one serving its stop delay exiting, not up, within 80 columns and beside SHED', () => {
    const nodes = [
      row('n1', 0),
      row('n2', 1, {figures: {...row('n2', 1).figures, writesStopped: 'IO error: No space left on device'}}),
      row('n3', 2, {figures: {...row('n3', 2).figures, stoppingInMs: 12_000}}),
    ]
    const text = drawnAt80(nodes)
    assert.match(text, /^ {2}n2\s+127\.0\.0\.1:17071\s+rdonly\s+22\s/m)
    assert.match(text, /^ {2}n3\s+127\.0\.0\.1:17072\s+exiting\s+21\s/m)
    // Every everyday column stays, and so does the address beside a SHED column (a wider STATUS pushed it out).
    assert.match(text, /NODE\s+ADDRESS\s+STATUS\s+PART\s+KEYS\s+GET\/S\s+PUT\/S\s+GET p99\/\.9\s+PUT p99\/\.9\s+LOOP/)
    const shedding = drawnAt80([withAdmission(row('n1', 0), {shedPerS: 1450, admissionState: 'shedding'}), nodes[1]!, nodes[2]!])
    assert.match(shedding, /^ {2}n2\s+127\.0\.0\.1:17071\s+rdonly\s/m)
    assert.match(text, /^. n1\s+127\.0\.0\.1:17070\s+up\s+21\s/m)
    // A node seen down says down whatever its last figures said.
    const down = drawnAt80([row('n1', 0), row('n2', 1), row('n3', 2, {status: 'down', answering: false, figures: {stoppingInMs: 1000}})])
    assert.match(down, /^ {2}n3\s+127\.0\.0\.1:17072\s+down\s/m)
  })

  it('draws a sparkline scaled to the largest value, gaps as spaces', () => {
    assert.equal(sparklineText([0, 50, 100, Number.NaN, 100], 5), '▁▅█ █')
    assert.equal(sparklineText([1, 2], 4), '  ▅█')
  })
})

describe('TopApp keys', () => {
  it('arrows select, enter opens the detail with its own view, ? lists keys, q quits', async () => {
    const focused: Array<string | undefined> = []
    let quit = 0
    const s = snapshot({focus: {name: 'n2', peers: [{name: 'n1', status: 'up'}, {name: 'n2', status: 'up'}, {name: 'n3', status: 'down'}]}})
    const app = render(<TopApp snapshot={s} width={80} height={24} onQuit={() => (quit += 1)} onFocus={(name) => focused.push(name)} />)
    try {
      await inputReady(app)
      app.stdin.write('\u001B[B')
      await frameMatching(app, /▶ n2/)
      app.stdin.write('\r')
      await waitUntil('enter focuses n2', () => focused.length === 1)
      assert.deepEqual(focused, ['n2'])
      const detail = await frameMatching(app, /its view:/)
      assert.match(detail, /its view: n1 up {2}n2 up {2}n3 down/)
      assert.match(detail, /store 2\.9 MiB/)
      assert.match(detail, /≤.50 ms █+/)
      // A lone escape is told from the start of a sequence only after a turn of the event loop:
      // the next key waits for its effect.
      app.stdin.write('\u001B')
      await waitUntil('escape leaves the detail', () => focused.length === 2)
      assert.deepEqual(focused, ['n2', undefined])
      app.stdin.write('?')
      await frameMatching(app, /q, ctrl-c\s+quit/)
      app.stdin.write('q')
      await waitUntil('q quits', () => quit > 0)
      assert.equal(quit, 1)
    } finally {
      app.unmount()
    }
  })
  it('selects among the members now: a member that left, on its line apart, is never selected', async () => {
    const focused: Array<string | undefined> = []
    const s = snapshot({nodes: [row('n1', 0, {status: 'left', answering: false, partitions: 0, figures: {}}), row('n2', 1), row('n3', 2)]})
    const app = render(<TopApp snapshot={s} width={80} height={24} onQuit={() => undefined} onFocus={(name) => focused.push(name)} />)
    try {
      await inputReady(app)
      await frameMatching(app, /▶ n2/)
      app.stdin.write('\u001B[B')
      app.stdin.write('\u001B[B')
      await frameMatching(app, /▶ n3/)
      app.stdin.write('\r')
      await waitUntil('enter focuses n3', () => focused.length === 1)
      assert.deepEqual(focused, ['n3'], 'the last row shown is n3, and the selection stops there')
    } finally {
      app.unmount()
    }
  })
})
