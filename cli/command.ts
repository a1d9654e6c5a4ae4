import type { OptionSpecs, Parsed } from './args'
import type { ApiClient } from './http-client'
import type { Output } from './output'

/** What a command gets: the parsed arguments, where to write, and the API (connected on first use). */
export interface CommandContext {
  args: Parsed
  out: Output
  api: () => ApiClient
  env: NodeJS.ProcessEnv
}

export interface Command {
  name: string
  aliases?: string[]
  /** `vbs <name> <usage>`. */
  usage: string
  summary: string
  options: OptionSpecs
  /** Longer help, after the options. */
  details?: string
  /** Resolves with the exit code. */
  run: (ctx: CommandContext) => Promise<number>
}

/** The --json switch every command takes. */
export const JSON_OPTION: OptionSpecs = { json: { kind: 'switch', help: 'print JSON (the API\'s own objects) for scripts' } }
