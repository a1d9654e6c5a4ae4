import type { ModelEntry } from '../config/models'
import { EngineError } from './engine-types'
import { findExecutable } from './find-executable'
import type { EngineAddress, LaunchCommand, LaunchContext, ProcessLauncher } from './process-launcher'
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
    const plan = { host: ctx.host, port: ctx.port, sleepMode: entry.sleep === true, mediaDomains: this.domains(), apiKey: ctx.apiKey }
    return Promise.resolve({ bin: this.locate(), argv: vllmArgv(entry, plan), env: vllmEnv(entry, plan, this.env) })
  }

  batchConcurrency(entry: ModelEntry): number {
    return entry.max_num_seqs ?? 64
  }

  /** Level-1 sleep keeps the weights in host RAM; vram_gb (weights plus KV cache) bounds them from above. */
  ramEstimateGb(entry: ModelEntry): number | null {
    return entry.vram_gb ?? null
  }

  /** Level 1: the weights go to host RAM and the KV cache is dropped, so waking needs no reload. */
  sleep(at: EngineAddress, timeoutMs: number): Promise<void> {
    return devEndpoint(at, '/sleep?level=1', timeoutMs)
  }

  wake(at: EngineAddress, timeoutMs: number): Promise<void> {
    return devEndpoint(at, '/wake_up', timeoutMs)
  }

  private domains(): string[] | null {
    try {
      return mediaDomains(this.options.allowedMediaDomains ?? '')
    } catch (err) {
      throw new EngineError((err as Error).message, 'misconfigured')
    }
  }
}

/** POSTs to one of vLLM's sleep-mode endpoints (served with VLLM_SERVER_DEV_MODE=1); rejects unless it answers 200. */
async function devEndpoint(at: EngineAddress, route: string, timeoutMs: number): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${at.port}${route}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${at.apiKey}` },
    signal: AbortSignal.timeout(timeoutMs),
  })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`POST ${route} answered ${res.status}${text ? `: ${text.slice(0, 300)}` : ''}`)
}
