import fs from 'node:fs'
import path from 'node:path'

/** Command-line flags of the benchmark scripts: `--name value` or `--name=value`; every flag takes a value. */

/** What each flag does with its value. */
export type Flags = Record<string, (value: string) => void>

/**
 * Walks argv and hands each flag's value (the text after `=`, else the next argument) to its handler; an
 * unknown flag or a missing value is an error naming the usage. `--help` and `-h` print the usage and exit.
 */
export function parseFlags(argv: readonly string[], usage: string, flags: Flags): void {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const eq = arg.indexOf('=')
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg
    const value = (): string => {
      const v = eq > 0 && arg.startsWith('--') ? arg.slice(eq + 1) : argv[++i]
      if (v === undefined) throw new Error(`${name} needs a value (${usage})`)
      return v
    }
    if (name === '--help' || name === '-h') {
      console.log(usage)
      process.exit(0)
    }
    if (!Object.hasOwn(flags, name)) throw new Error(`unknown argument ${JSON.stringify(arg)} (${usage})`)
    flags[name](value())
  }
}

/** `--only a,b`: the parts named, each one of `parts` (`says` words the error, e.g. 'a, b or c'). */
export function onlyFlag<P extends string>(value: string, parts: readonly P[], says: string): P[] {
  const named = value.split(',').map((p) => p.trim())
  for (const p of named) if (!(parts as readonly string[]).includes(p)) throw new Error(`--only takes ${says}, got ${JSON.stringify(p)}`)
  return named as P[]
}

/** `--env NAME=VALUE`: sets NAME in `env`. */
function envFlag(value: string, env: Record<string, string>): void {
  const at = value.indexOf('=')
  if (at <= 0) throw new Error(`--env needs NAME=VALUE, got ${JSON.stringify(value)}`)
  env[value.slice(0, at)] = value.slice(at + 1)
}

/** What the flags of serviceFlags set. */
export interface ServiceFlags {
  /** Extra environment of the services, applied last: for experiments. */
  env: Record<string, string>
  /** Where CPU profiles go (made when the flag is read), and a dir that keeps each service's whole output. */
  cpuProfDir: string | null
  outputDir: string | null
}

/** The flags of the benchmarks that start services: --env NAME=VALUE (repeatable), --cpu-prof DIR, --service-output DIR. */
export function serviceFlags(o: ServiceFlags): Flags {
  return {
    '--env': (v) => envFlag(v, o.env),
    '--cpu-prof': (v) => {
      o.cpuProfDir = path.resolve(v)
      fs.mkdirSync(o.cpuProfDir, { recursive: true })
    },
    '--service-output': (v) => (o.outputDir = path.resolve(v)),
  }
}
