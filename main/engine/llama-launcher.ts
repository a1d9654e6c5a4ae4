import fs from 'node:fs'
import { appRoot } from '../config/app-paths'
import type { ModelEntry } from '../config/models'
import { childEnv } from './child-env'
import type { DownloadProgress } from './engine-types'
import { EngineError } from './engine-types'
import { DEFAULT_PARALLEL, ENGINE_KEY_VAR, llamaArgv, llamaServerScript } from './llama-argv'
import type { LaunchCommand, LaunchContext, ProcessLauncher } from './process-launcher'

/** The model files of llama.cpp models: `hf:` references are fetched into the data dir when first needed. */
export interface ModelFiles {
  isPresent(ref: string): boolean
  ensure(modelId: string, ref: string, signal?: AbortSignal): Promise<string>
  progress(modelId: string): DownloadProgress | null
}

/** Our llama.cpp server (node-llama-cpp in a child process of Node), for machines without vLLM. */
export class LlamaLauncher implements ProcessLauncher {
  readonly kind = 'llama.cpp' as const
  readonly label = 'llama.cpp'

  constructor(
    private readonly files: ModelFiles,
    private readonly env: NodeJS.ProcessEnv,
    /** The Node that runs the child: this process's own (Electron's runs as Node with ELECTRON_RUN_AS_NODE). */
    private readonly node = process.execPath,
  ) {}

  check(): void {
    try {
      llamaServerScript()
    } catch (err) {
      throw new EngineError((err as Error).message, 'not_found')
    }
  }

  async prepare(entry: ModelEntry, ctx: LaunchContext): Promise<LaunchCommand> {
    let modelFile = entry.model
    if (entry.model.startsWith('hf:')) {
      if (!this.files.isPresent(entry.model)) ctx.downloading()
      try {
        modelFile = await this.files.ensure(entry.id, entry.model, ctx.signal)
      } catch (err) {
        if (ctx.signal.aborted) throw new EngineError(`the download of ${entry.id} was stopped; it resumes at the next start`, 'stopped')
        throw new EngineError((err as Error).message, 'download_failed')
      }
    }
    // Our secrets stay here (the child gets its model file from our downloader, so no Hugging Face token either).
    const env: NodeJS.ProcessEnv = { ...childEnv(this.env), ...(entry.env ?? {}) }
    if (process.versions.electron) env.ELECTRON_RUN_AS_NODE = '1'
    env[ENGINE_KEY_VAR] = ctx.apiKey
    return {
      bin: this.node,
      argv: llamaArgv(entry, { script: llamaServerScript(), modelFile, host: ctx.host, port: ctx.port }),
      env,
      cwd: appRoot(), // where `--import tsx` resolves when the child runs from source
    }
  }

  /** A parked child keeps its model in memory: about the GGUF file's size (vram_gb when the file is not here yet). */
  ramEstimateGb(entry: ModelEntry): number | null {
    if (!entry.model.startsWith('hf:')) {
      try {
        return Math.round((fs.statSync(entry.model).size / 1024 ** 3) * 1000) / 1000
      } catch {
        // not there (yet): the estimate below
      }
    }
    return entry.vram_gb ?? null
  }

  batchConcurrency(entry: ModelEntry): number {
    // Twice the sequences: the next request waits in the child's queue, so a sequence never idles between two.
    return 2 * (entry.parallel ?? DEFAULT_PARALLEL)
  }
}
