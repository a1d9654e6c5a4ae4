import os from 'node:os'
import path from 'node:path'

/** The llama-server child's command line, parsed. Pure: argv in, settings out (or an ArgsError). */
export interface ServerArgs {
  model: string
  host: string
  /** 0 picks a free port; the ready line names the one bound. */
  port: number
  servedModelName: string
  /** Context sequences: requests generated at once; the rest wait in the priority queue. */
  parallel: number
  /** Tokens per sequence (prompt + completion). */
  contextSize: number
  threads: number
  gpuLayers: 'auto' | number
}

/**
 * The environment variable that holds the key the /v1 routes require (the name llama.cpp's own llama-server
 * reads). Not a flag: argv is readable by every local user in /proc/<pid>/cmdline. Unset: no key needed.
 */
export const ENGINE_KEY_VAR = 'LLAMA_API_KEY'

/** The key from the environment, removed from it so that nothing this process starts inherits it. */
export function takeApiKey(env: NodeJS.ProcessEnv): string | null {
  const key = env[ENGINE_KEY_VAR]
  delete env[ENGINE_KEY_VAR]
  return key ? key : null
}

export class ArgsError extends Error {
  override name = 'ArgsError'
}

export const USAGE = [
  'usage: llama-server --model <file.gguf> --port <p> [--host 127.0.0.1] [--served-model-name <id>]',
  '                    [--parallel 1] [--context-size 4096] [--threads <n>] [--gpu-layers auto|<n>]',
  `environment: ${ENGINE_KEY_VAR}=<key> makes /v1/* require Authorization: Bearer <key>`,
].join('\n')

const DEFAULTS = { host: '127.0.0.1', parallel: 1, contextSize: 4096 }

const FLAGS = ['model', 'host', 'port', 'served-model-name', 'parallel', 'context-size', 'threads', 'gpu-layers'] as const
type Flag = (typeof FLAGS)[number]

function isFlag(name: string): name is Flag {
  return (FLAGS as readonly string[]).includes(name)
}

function integer(flag: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new ArgsError(`--${flag} must be a whole number, got '${value}'`)
  const n = Number(value)
  if (n < min || n > max) throw new ArgsError(`--${flag} must be from ${min} to ${max}, got ${n}`)
  return n
}

export function parseArgs(argv: readonly string[], defaultThreads = Math.max(1, os.availableParallelism() - 1)): ServerArgs {
  const given = new Map<Flag, string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (!arg.startsWith('--')) throw new ArgsError(`unexpected argument '${arg}'`)
    const eq = arg.indexOf('=')
    const name = arg.slice(2, eq === -1 ? undefined : eq)
    if (!isFlag(name)) throw new ArgsError(`unknown flag '--${name}'`)
    let value: string | undefined
    if (eq !== -1) value = arg.slice(eq + 1)
    else {
      value = argv[i + 1]
      if (value === undefined || value.startsWith('--')) throw new ArgsError(`--${name} needs a value`)
      i++
    }
    if (given.has(name)) throw new ArgsError(`--${name} given twice`)
    given.set(name, value)
  }

  const model = given.get('model')
  if (!model) throw new ArgsError('--model <file.gguf> is required')
  const portText = given.get('port')
  if (portText === undefined) throw new ArgsError('--port is required')
  const gpuText = given.get('gpu-layers') ?? 'auto'
  const host = given.get('host') ?? DEFAULTS.host
  if (host === '') throw new ArgsError('--host must not be empty')
  const servedModelName = given.get('served-model-name') ?? path.basename(model).replace(/\.gguf$/i, '')
  if (servedModelName === '') throw new ArgsError('--served-model-name must not be empty')
  return {
    model,
    host,
    port: integer('port', portText, 0, 65535),
    servedModelName,
    parallel: given.has('parallel') ? integer('parallel', given.get('parallel')!, 1, 256) : DEFAULTS.parallel,
    contextSize: given.has('context-size') ? integer('context-size', given.get('context-size')!, 16, 10_000_000) : DEFAULTS.contextSize,
    threads: given.has('threads') ? integer('threads', given.get('threads')!, 1, 1024) : defaultThreads,
    gpuLayers: gpuText === 'auto' ? 'auto' : integer('gpu-layers', gpuText, 0, 100_000),
  }
}
