import path from 'node:path'
import type { ModelEntry } from '../config/models'
import { EngineError } from './engine-types'
import { findExecutable } from './find-executable'
import type { LaunchCommand, LaunchContext, ProcessLauncher } from './process-launcher'
import { vllmArgv, vllmEnv } from './vllm-argv'

/** `vllm serve` on the workstation's GPU. */
export class VllmLauncher implements ProcessLauncher {
  readonly kind = 'vllm' as const
  readonly label = 'vLLM'

  constructor(
    /** VBS_VLLM_BIN: a command on PATH or a path. */
    private readonly bin: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Where the vllm executable is, or an EngineError naming where we looked and what to do. */
  locate(): string {
    const { found, lookedIn } = findExecutable(this.bin, this.env.PATH ?? process.env.PATH ?? '')
    if (found) return found
    const where = this.bin.includes('/') ? this.bin : `'${this.bin}' on PATH (${lookedIn.map(path.dirname).join(':')})`
    throw new EngineError(`vLLM not found (looked for ${where}): install it with \`pip install vllm\` or set VBS_VLLM_BIN`, 'not_found')
  }

  check(): void {
    this.locate()
  }

  prepare(entry: ModelEntry, ctx: LaunchContext): Promise<LaunchCommand> {
    const plan = { host: ctx.host, port: ctx.port, sleepMode: false }
    return Promise.resolve({ bin: this.locate(), argv: vllmArgv(entry, plan), env: vllmEnv(entry, plan, this.env) })
  }

  batchConcurrency(entry: ModelEntry): number {
    return entry.max_num_seqs ?? 64
  }
}
