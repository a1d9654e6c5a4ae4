import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { appRoot } from '../config/app-paths'
import type { ModelEntry } from '../config/models'
import { servingArgs } from './process-launcher'

export { ENGINE_KEY_VAR } from './llama-server/args'

/** Requests served at once when a llama.cpp model does not say (one context sequence each). */
export const DEFAULT_PARALLEL = 4
export const DEFAULT_CONTEXT_SIZE = 4096

/**
 * llama.cpp's threads when the model does not say: the cores the service leaves free. llama.cpp's own
 * default (every core) contends with the service on a small machine and runs hundreds of times slower.
 */
export function defaultThreads(cores = os.availableParallelism()): number {
  return Math.max(1, cores - 1)
}

/**
 * Where our llama.cpp server's entry is: the source when the service itself runs from source (tsx), else the
 * bundle electron-vite builds beside the main process (`out/main/llama-server.js`).
 */
export function llamaServerScript(root = appRoot(), fromSource = __filename.endsWith('.ts')): string {
  const file = fromSource ? path.join(root, 'main', 'engine', 'llama-server', 'main.ts') : path.join(root, 'out', 'main', 'llama-server.js')
  if (!fs.existsSync(file)) throw new Error(`the llama.cpp server was not found (looked for ${file}); run npm run build`)
  return file
}

/**
 * The argv of our llama.cpp child for a registry entry, after the node executable: an array, never shell
 * text. Pure: the same entry, file and plan always give the same argv.
 */
export function llamaArgv(entry: ModelEntry, plan: { script: string; modelFile: string; host: string; port: number; cores?: number }): string[] {
  const runtime = plan.script.endsWith('.ts') ? ['--import', 'tsx'] : []
  return [
    ...runtime,
    plan.script,
    '--model',
    plan.modelFile,
    ...servingArgs(entry.id, plan.host, plan.port),
    '--parallel',
    String(entry.parallel ?? DEFAULT_PARALLEL),
    '--context-size',
    String(entry.context_size ?? DEFAULT_CONTEXT_SIZE),
    '--threads',
    String(entry.threads ?? defaultThreads(plan.cores)),
    '--gpu-layers',
    String(entry.gpu_layers ?? 'auto'),
  ]
}
