/**
 * Tests of the command line every paper experiment reads through bench/experiments/common.ts:
 * its --help (what it measures, each flag with its default, examples) comes before anything else
 * on the line, each flag is read into its value, and whatever cannot be read is refused with a
 * message that names the flag as typed. The process side (print, exit 0 or 2) is run for every
 * compiled experiment by test/integration/bench-experiments.test.ts.
 */

import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {anyText, experimentHelp, listOf, oneOf, positiveInteger, positiveNumber, readExperimentFlags, wholeNumber, workloadName, wrapWords} from '../../bench/experiments/common.js'
import type {Experiment, ExperimentFlag, FlagsAnswer} from '../../bench/experiments/common.js'

const sample = {
  name: 'sample',
  measures: 'What a sample experiment measures, in a sentence long enough to be wrapped over more than one line of the help text.',
  flags: {
    rate: {read: positiveInteger, value: 'R', default: '400', description: 'operations per second'},
    workload: {read: workloadName, value: 'W', default: 'c', description: 'the workload'},
    share: {read: positiveNumber(2), value: 'CPUS', description: 'a share of the CPUs'},
    skip: {read: oneOf(['bytes', 'cost']), value: 'PART', multiple: true, description: 'a part to leave out'},
    'tls-dir': {read: anyText, value: 'DIR', required: true, description: 'the folder of the certificates'},
    json: {description: 'print JSON'},
    pin: {default: true, negatable: true, description: 'pin the nodes'},
  },
  examples: ['node dist/bench/experiments/sample.js --tls-dir tls', 'node dist/bench/experiments/sample.js --tls-dir tls --rate 100 --no-pin'],
} as const

/** The line read, which must be accepted. */
function read(args: readonly string[]): Extract<FlagsAnswer<typeof sample.flags>, {kind: 'read'}>['values'] {
  const answer = readExperimentFlags(sample, args)
  assert.equal(answer.kind, 'read', JSON.stringify(answer))
  return (answer as Extract<typeof answer, {kind: 'read'}>).values
}

/** The message a refused line gets. */
function refusal(args: readonly string[]): string {
  const answer = readExperimentFlags(sample, args)
  assert.equal(answer.kind, 'refused', `${args.join(' ')}: ${JSON.stringify(answer)}`)
  return (answer as {message: string}).message
}

describe('readExperimentFlags', () => {
  it('reads each flag into its value, a default where it is not given', () => {
    assert.deepEqual(read(['--tls-dir', 'tls']), {rate: 400, workload: 'c', share: undefined, skip: [], 'tls-dir': 'tls', json: false, pin: true})
    assert.deepEqual(read(['--tls-dir=certs', '--rate=25', '--workload', 'a', '--share', '0.5', '--skip', 'cost', '--skip', 'bytes', '--json', '--no-pin']), {
      rate: 25,
      workload: 'a',
      share: 0.5,
      skip: ['cost', 'bytes'],
      'tls-dir': 'certs',
      json: true,
      pin: false,
    })
    // A flag given twice takes its last value, as node:util's parseArgs reads it.
    assert.equal(read(['--tls-dir', 'tls', '--rate', '1', '--rate', '2']).rate, 2)
    assert.equal(read(['--tls-dir', 'tls', '--no-pin', '--pin']).pin, true)
  })

  it('answers --help or -h anywhere before --, even beside flags it would refuse, with the help text', () => {
    for (const args of [['--help'], ['-h'], ['--bogus', '--help'], ['--rate', '0', '-h']]) {
      assert.deepEqual(readExperimentFlags(sample, args), {kind: 'help', text: experimentHelp(sample)}, args.join(' '))
    }
    // After --, nothing is a flag: an experiment takes no arguments.
    assert.match(refusal(['--', '--help']), /^unexpected argument "--help"/)
  })

  it('refuses what it cannot read, naming the flag as typed', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--tls-dir', 'tls', '--bogus'], /^unknown flag --bogus$/],
      [['--tls-dir', 'tls', '-x'], /^unknown flag -x$/],
      [['--tls-dir', 'tls', '--no-json'], /^unknown flag --no-json$/],
      [['--tls-dir', 'tls', '--no-rate'], /^unknown flag --no-rate$/],
      [['--tls-dir', 'tls', '--rate'], /^--rate needs a value: --rate R$/],
      [['--tls-dir', 'tls', '--json=yes'], /^--json takes no value$/],
      [['--tls-dir', 'tls', 'extra'], /^unexpected argument "extra"/],
      [['--tls-dir', 'tls', '--rate', 'fast'], /^--rate fast: a whole number of at least 1$/],
      [['--tls-dir', 'tls', '--rate', '0'], /^--rate 0: a whole number of at least 1$/],
      [['--tls-dir', 'tls', '--workload', 'z'], /^--workload z: one of a, b, c, d, f, cart$/],
      [['--tls-dir', 'tls', '--share', '3'], /^--share 3: a number above 0 and at most 2$/],
      [['--tls-dir', 'tls', '--skip', 'cost', '--skip', 'disk'], /^--skip disk: one of bytes, cost$/],
      [['--rate', '5'], /^give --tls-dir DIR: the folder of the certificates$/],
    ]
    for (const [args, message] of cases) assert.match(refusal(args), message, args.join(' '))
  })

  it('takes a default its own reader refuses for the experiment\'s mistake, and says so whatever the line', () => {
    const broken: Experiment<Readonly<Record<string, ExperimentFlag>>> = {...sample, flags: {rate: {read: positiveInteger, value: 'R', default: '0', description: 'operations per second'}}}
    for (const args of [[], ['--help']]) assert.throws(() => readExperimentFlags(broken, args), /the default of --rate \(0\) is not one of its values/)
  })
})

describe('experimentHelp', () => {
  const text = experimentHelp(sample)

  it('says what the experiment measures, how to run it, every flag with its default, and the examples', () => {
    assert.match(text, /^What a sample experiment measures/)
    assert.match(text, /^USAGE\n {2}node dist\/bench\/experiments\/sample\.js --tls-dir DIR \[FLAGS\]$/m)
    assert.match(text, /^ {2}--rate R +operations per second \[default: 400\]$/m)
    assert.match(text, /^ {2}--skip PART +a part to leave out \[may be given more than once\]$/m)
    assert.match(text, /^ {2}--tls-dir DIR +the folder of the certificates \[required\]$/m)
    assert.match(text, /^ {2}--json +print JSON$/m)
    assert.match(text, /^ {2}--\[no-\]pin +pin the nodes \[default: on\]$/m)
    assert.match(text, /^ {2}-h, --help +this text$/m)
    assert.match(text, /^EXAMPLES\n {2}node dist\/bench\/experiments\/sample\.js --tls-dir tls\n {2}node dist\/bench\/experiments\/sample\.js --tls-dir tls --rate 100 --no-pin$/m)
    assert.match(text, /bench\/experiments\/sample\.ts/)
  })

  it('keeps its lines within 100 columns and its flags\' descriptions in one column', () => {
    const lines = text.split('\n')
    assert.ok(lines.every((line) => line.length <= 100), lines.find((line) => line.length > 100))
    const column = (line: string | undefined): number => (line ?? '').search(/ {2}[a-z]/) + 2
    const flagLines = lines.slice(lines.indexOf('FLAGS') + 1, lines.indexOf('', lines.indexOf('FLAGS')))
    assert.equal(new Set(flagLines.filter((line) => line.startsWith('  -')).map(column)).size, 1)
  })
})

describe('flag readers', () => {
  it('wholeNumber and positiveNumber take decimal text only, within their bounds', () => {
    assert.deepEqual(wholeNumber(0)('0', 'warmup'), {ok: true, value: 0})
    assert.deepEqual(wholeNumber(1, 3)('4', 'endpoints'), {ok: false, message: '--endpoints 4: a whole number from 1 to 3'})
    assert.equal(positiveInteger('2.5', 'rate').ok, false)
    assert.deepEqual(positiveNumber()('.25', 'share'), {ok: true, value: 0.25})
    for (const text of ['', ' ', '0', '-1', '0x10', '1e3', 'Infinity']) assert.equal(positiveNumber()(text, 'share').ok, false, JSON.stringify(text))
  })

  it('listOf reads every item of a comma-separated list, and refuses an empty one or a bad item', () => {
    const seconds = listOf(positiveNumber())
    assert.deepEqual(seconds('10,60,180', 'cuts'), {ok: true, value: [10, 60, 180]})
    assert.deepEqual(seconds('10,60,,180', 'cuts'), {ok: false, message: '--cuts "10,60,,180": a comma-separated list of values, none of them empty'})
    assert.deepEqual(seconds('10,', 'cuts'), {ok: false, message: '--cuts "10,": a comma-separated list of values, none of them empty'})
    assert.deepEqual(seconds('', 'cuts'), {ok: false, message: '--cuts "": a comma-separated list of values, none of them empty'})
    assert.deepEqual(listOf(workloadName)('c,q', 'workloads'), {ok: false, message: '--workloads q: one of a, b, c, d, f, cart'})
  })
})

describe('wrapWords', () => {
  it('breaks between words within the width, and gives a longer word a line of its own', () => {
    assert.deepEqual(wrapWords('one two three four', 9), ['one two', 'three', 'four'])
    assert.deepEqual(wrapWords('a extraordinarily b', 5), ['a', 'extraordinarily', 'b'])
    assert.deepEqual(wrapWords('  ', 10), [])
  })
})
