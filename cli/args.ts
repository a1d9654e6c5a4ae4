import { usageError } from './exit-codes'

/** One option of a command: a switch (`--wait`), a value (`--out DIR`), or a value given many times (`--metadata k=v`). */
export interface OptionSpec {
  kind: 'switch' | 'value' | 'list'
  /** A one-letter alias (`-o`). */
  short?: string
  /** The placeholder shown in help (`DIR`). */
  value?: string
  help: string
}

export type OptionSpecs = Record<string, OptionSpec>

export interface Parsed {
  positionals: string[]
  switches: Set<string>
  values: Map<string, string>
  lists: Map<string, string[]>
}

/**
 * Parses a command's arguments against its options: `--name value`, `--name=value`, `-o value`, `--` ends the
 * options. An unknown option or a value missing is a usage error naming it.
 */
export function parseArgs(argv: readonly string[], specs: OptionSpecs, command: string): Parsed {
  const parsed: Parsed = { positionals: [], switches: new Set(), values: new Map(), lists: new Map() }
  const byShort = new Map(Object.entries(specs).flatMap(([name, s]) => (s.short ? [[s.short, name] as const] : [])))
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--') {
      parsed.positionals.push(...argv.slice(i + 1))
      break
    }
    if (!arg.startsWith('-') || arg === '-') {
      parsed.positionals.push(arg)
      continue
    }
    let name: string
    let inline: string | undefined
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=')
      name = eq === -1 ? arg.slice(2) : arg.slice(2, eq)
      inline = eq === -1 ? undefined : arg.slice(eq + 1)
    } else {
      const long = byShort.get(arg.slice(1))
      if (!long) throw usageError(`vbs ${command}: unknown option '${arg}' (see vbs ${command} --help)`)
      name = long
    }
    const spec = specs[name]
    if (!spec) throw usageError(`vbs ${command}: unknown option '--${name}' (see vbs ${command} --help)`)
    if (spec.kind === 'switch') {
      if (inline !== undefined) throw usageError(`vbs ${command}: --${name} takes no value`)
      parsed.switches.add(name)
      continue
    }
    const value = inline ?? argv[++i]
    if (value === undefined) throw usageError(`vbs ${command}: --${name} needs a value (${spec.value ?? 'VALUE'})`)
    if (spec.kind === 'value') parsed.values.set(name, value)
    else parsed.lists.set(name, [...(parsed.lists.get(name) ?? []), value])
  }
  return parsed
}

/** A whole number option within bounds, or a usage error naming it. */
export function intOption(parsed: Parsed, name: string, command: string, bounds: { min: number; max: number }): number | undefined {
  const raw = parsed.values.get(name)
  if (raw === undefined) return undefined
  const n = Number(raw)
  if (!/^\d+$/.test(raw) || n < bounds.min || n > bounds.max) {
    throw usageError(`vbs ${command}: --${name} must be a whole number from ${bounds.min} to ${bounds.max}, got '${raw}'`)
  }
  return n
}

/** The options' help: one line each, aligned. */
export function optionsHelp(specs: OptionSpecs): string {
  const rows = Object.entries(specs).map(([name, s]) => [`${s.short ? `-${s.short}, ` : '    '}--${name}${s.value ? ` ${s.value}` : ''}`, s.help])
  const width = Math.max(0, ...rows.map(([l]) => l.length))
  return rows.map(([l, h]) => `  ${l.padEnd(width)}  ${h}`).join('\n')
}
