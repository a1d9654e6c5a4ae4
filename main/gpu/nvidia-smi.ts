import { execFile } from 'node:child_process'
import { childEnv } from '../engine/child-env'

export interface GpuMemory {
  totalMiB: number
  usedMiB: number
  freeMiB: number
}

/** Answers of nvidia-smi: memory of GPU 0, or null when there is no NVIDIA GPU or driver to ask. */
export interface GpuProbe {
  memory(): Promise<GpuMemory | null>
}

/**
 * Asks `nvidia-smi` (found on PATH) without blocking the event loop; a missing binary, a failing driver or a
 * slow answer (past timeoutMs) gives null, never an exception.
 */
export class NvidiaSmi implements GpuProbe {
  /** The environment it runs in: ours (its PATH finds the binary) without our secrets. */
  private readonly env: NodeJS.ProcessEnv

  constructor(
    private readonly bin = 'nvidia-smi',
    private readonly timeoutMs = 5000,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.env = childEnv(env)
  }

  async memory(): Promise<GpuMemory | null> {
    const out = await this.query(['memory.total', 'memory.used', 'memory.free'])
    if (!out) return null
    const [total, used, free] = out[0] ?? []
    if (![total, used, free].every(Number.isFinite)) return null
    return { totalMiB: total, usedMiB: used, freeMiB: free }
  }

  /** One row of numbers per GPU for the given fields, or null. */
  query(fields: string[]): Promise<number[][] | null> {
    return new Promise((resolve) => {
      execFile(
        this.bin,
        [`--query-gpu=${fields.join(',')}`, '--format=csv,noheader,nounits'],
        { timeout: this.timeoutMs, windowsHide: true, env: this.env },
        (err, stdout) => {
          if (err) return resolve(null)
          const rows = stdout
            .split('\n')
            .filter((l) => l.trim() !== '')
            .map((l) => l.split(',').map((v) => Number(v.trim())))
          resolve(rows.length > 0 ? rows : null)
        },
      )
    })
  }
}
