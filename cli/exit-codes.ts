/**
 * What `vbs` exits with; scripts switch on these (README "vbs: exit codes"). A job's end decides 0 or 1 for
 * the commands that wait for one; every other command exits 0 when it did what it was asked.
 */
export const EXIT = {
  /** Done: the command did what it was asked; a job waited for ended `completed`. */
  ok: 0,
  /** A job waited for ended `failed`, `cancelled` or `expired`. */
  jobFailed: 1,
  /** The command line or a local file is wrong (unknown option, missing argument, unreadable or bad input). */
  usage: 2,
  /** The server could not be reached (refused, timed out, no such host), or no server was found. */
  unreachable: 3,
  /** The server answered with an error: a wrong key, an unknown id, a request it refused. */
  refused: 4,
  /** Ctrl-C while waiting: the job goes on, and `vbs wait ID` reattaches to it. */
  interrupted: 130,
} as const

export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

/** An error that ends the command with its exit code and one line of text. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message)
    this.name = 'CliError'
  }
}

export const usageError = (message: string): CliError => new CliError(message, EXIT.usage)
