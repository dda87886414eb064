import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import {loadHelpClass} from '@oclif/core/help'
import {DynCommand} from '../src/cli/command-base.js'
import {helpAnswer, printHelpJson} from '../src/cli/help-json.js'

/**
 * `dyn help [COMMAND]`, in place of @oclif/plugin-help's command (a command of the CLI itself
 * wins over a plugin's of the same name): the same text, and with --json the commands, or one
 * command's flags and arguments, as one JSON object, as every dyn command answers --json.
 */
export default class HelpCommand extends DynCommand {
  static override summary = 'Show the commands, or one command\'s (or topic\'s) flags and examples.'

  static override description = `Without a command: every command with its summary (topics first). With one (dyn help cluster up): its usage, flags, arguments and examples, as COMMAND --help shows them.
--json prints {ok, bin, version, topics: [{topic, description}], commands: [{command, summary, args: [{name, description, required}], flags: [{name, char, description, type (boolean or option), required, multiple, default, options}]}]}; for one command {ok, bin, command, summary, args, flags, description, examples: [{description, command}]}; for a topic {ok, bin, topic, description, commands}. A name that is no command or topic is unknown_command (exit 2).`

  static override examples = [
    {description: 'The commands', command: '<%= config.bin %> help'},
    {description: 'One command\'s flags and examples (the same as dyn get --help)', command: '<%= config.bin %> help get'},
    {description: 'The commands of a topic', command: '<%= config.bin %> help cluster'},
    {description: 'The same for a program: every command with its flags', command: '<%= config.bin %> help --json'},
    {description: 'One command as JSON: its flags, arguments and examples', command: '<%= config.bin %> help cluster up --json'},
  ]

  static override args = {
    command: Args.string({description: 'the command (or topic) to show help for', required: false}),
  }

  // Not strict: a command of two words (cluster up) comes as two arguments.
  static override strict = false

  static override flags = {
    'nested-commands': Flags.boolean({char: 'n', description: 'include the commands of every topic in the list'}),
    json: Flags.boolean({description: 'print the help as one JSON object', default: false}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(HelpCommand)
    const words = argv as string[]
    if (flags.json) return printHelpJson(this.config, words, {helpCommand: true})
    // A name that is no command or topic: the same coded refusal as under --json (oclif's text
    // was a usage error pointing at --help).
    const known = helpAnswer(this.config, words, {helpCommand: true})
    if (!known.ok) this.fail(false, known.error, known.message)
    const Help = await loadHelpClass(this.config)
    const help = new Help(this.config, {all: flags['nested-commands']})
    // oclif's help skips the word help, so `dyn help help` would list every command: this
    // command's own help is asked for by name, as the subject already read says.
    const helpCommand = known.command === 'help' ? this.config.findCommand('help') : undefined
    if (helpCommand !== undefined) return help.showCommandHelp(helpCommand, this.config.topics)
    // What came after `--` is no flag of the help's (`dyn help -- --json` is text, as asked).
    await help.showHelp(words.filter((word) => !word.startsWith('-')))
  }
}
