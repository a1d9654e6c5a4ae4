import { optionsHelp, parseArgs } from './args'
import type { Command } from './command'
import { compare } from './commands/compare'
import { cancel, download, ls, retry, status, wait } from './commands/jobs'
import { make } from './commands/make'
import { models, results } from './commands/results'
import { submit } from './commands/submit'
import { service } from './commands/service'
import { discover } from './discovery'
import { CliError, EXIT } from './exit-codes'
import { ApiClient } from './http-client'
import { Output } from './output'

declare const VBS_VERSION: string

/** `vbs`: the command-line client of a vLLM Batch Server (README "The vbs command"). */
const COMMANDS: Command[] = [submit, ls, status, wait, cancel, download, results, retry, models, compare, make, service]

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length))
  return [
    'vbs: the command line of vLLM Batch Server',
    '',
    'usage: vbs <command> [options]      vbs <command> --help for its options',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'The server and key: VBS_URL and VBS_API_KEY; else OPENAI_BASE_URL and OPENAI_API_KEY; else the service on',
    'this machine (its data dir: VBS_DATA_DIR or ~/.local/share/vllm-batch-server).',
    'Exit codes: 0 done (a waited-for batch completed), 1 the batch failed, was cancelled or expired, 2 usage',
    'error, 3 cannot reach the server, 4 the server refused (key, id, request), 130 Ctrl-C while waiting.',
  ].join('\n')
}

function commandHelp(c: Command): string {
  return [`usage: vbs ${c.name} ${c.usage}`, '', c.summary, '', optionsHelp({ ...c.options, help: { kind: 'switch', short: 'h', help: 'this help' } }), ...(c.details ? ['', c.details] : [])].join('\n')
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0] || c.aliases?.includes(rest[0])) : undefined
    process.stdout.write(`${topic ? commandHelp(topic) : mainHelp()}\n`)
    return name === undefined ? EXIT.usage : EXIT.ok
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`vbs ${typeof VBS_VERSION === 'string' ? VBS_VERSION : 'dev'}\n`)
    return EXIT.ok
  }
  const command = COMMANDS.find((c) => c.name === name || c.aliases?.includes(name))
  if (!command) throw new CliError(`unknown command '${name}' (vbs --help lists them)`, EXIT.usage)
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${commandHelp(command)}\n`)
    return EXIT.ok
  }
  const args = parseArgs(rest, command.options, command.name)
  const out = new Output({ json: args.switches.has('json') })
  let api: ApiClient | null = null
  return command.run({
    args,
    out,
    env: process.env,
    api: () => {
      if (api) return api
      const connection = discover(process.env)
      try {
        const u = new URL(connection.url)
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)')
      } catch {
        throw new CliError(`the server's address '${connection.url}' (from ${connection.source}) is not an http(s) URL`, EXIT.usage)
      }
      api = new ApiClient(connection, () => discover(process.env))
      return api
    },
  })
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    if (err instanceof CliError) {
      // On a terminal a progress line may be drawn without its line end.
      // Usage errors name their command ("vbs make: ..."); the others get the program's name.
      const text = err.message.startsWith('vbs ') ? err.message : `vbs: ${err.message}`
      process.stderr.write(`${process.stdout.isTTY ? '\n' : ''}${text}\n`)
      process.exitCode = err.exitCode
    } else {
      process.stderr.write(`vbs: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`)
      process.exitCode = 70
    }
  },
)
