import type { ModelEntry } from '../config/models'
import { EngineError } from './engine-types'
import { findExecutable } from './find-executable'
import type { LaunchCommand, LaunchContext, ProcessLauncher } from './process-launcher'
import { extraArgsProblem, mediaDomains, vllmArgv, vllmEnv } from './vllm-argv'

/** Settings of vLLM launches besides the binary. */
export interface VllmOptions {
  /**
   * VBS_ALLOWED_MEDIA_DOMAINS: hosts `image_url`/`video_url` parts may be fetched from, comma-separated;
   * '' (the default) none, '*' any.
   */
  allowedMediaDomains?: string
}

/** `vllm serve` on the workstation's GPU. */
export class VllmLauncher implements ProcessLauncher {
  readonly kind = 'vllm' as const
  readonly label = 'vLLM'

  constructor(
    /** VBS_VLLM_BIN: a command on PATH or a path. */
    private readonly bin: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly options: VllmOptions = {},
  ) {}

  /**
   * Where the vllm executable is, or an EngineError saying what to do. The message names the binary, never
   * the folders of PATH (which reach the status, the logs and API clients).
   */
  locate(): string {
    const { found, lookedIn } = findExecutable(this.bin, this.env.PATH ?? process.env.PATH ?? '')
    if (found) return found
    const folders = new Set(lookedIn).size
    const where = this.bin.includes('/')
      ? `${this.bin} does not exist or is not executable`
      : `'${this.bin}' is not on PATH (searched ${folders} folder${folders === 1 ? '' : 's'})`
    throw new EngineError(`vLLM not found: ${where}; install it with \`pip install vllm\` or set VBS_VLLM_BIN`, 'not_found')
  }

  check(entry?: ModelEntry): void {
    this.locate()
    this.domains()
    const problem = entry ? extraArgsProblem(entry) : null
    if (problem) throw new EngineError(problem, 'misconfigured')
  }

  prepare(entry: ModelEntry, ctx: LaunchContext): Promise<LaunchCommand> {
    const plan = { host: ctx.host, port: ctx.port, sleepMode: false, mediaDomains: this.domains(), apiKey: ctx.apiKey }
    return Promise.resolve({ bin: this.locate(), argv: vllmArgv(entry, plan), env: vllmEnv(entry, plan, this.env) })
  }

  batchConcurrency(entry: ModelEntry): number {
    return entry.max_num_seqs ?? 64
  }

  private domains(): string[] | null {
    try {
      return mediaDomains(this.options.allowedMediaDomains ?? '')
    } catch (err) {
      throw new EngineError((err as Error).message, 'misconfigured')
    }
  }
}
