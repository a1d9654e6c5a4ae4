import type { LoadingPhase } from './loading-phase'

/** The engine's lifecycle. */
export type EngineState = 'stopped' | 'starting' | 'ready' | 'stopping' | 'failed' | 'sleeping'

export interface EngineStatus {
  state: EngineState
  /** Registry id of the model running, loading or last failed. */
  model: string | null
  pid: number | null
  port: number | null
  phase: LoadingPhase | null
  startedAt: number | null
  readyAt: number | null
  uptimeS: number | null
  lastError: string | null
  /** Restarts after crashes in the current window. */
  restarts: number
  logTail: string[]
}

/** Something stopped the engine from doing what was asked; the message is for the user. */
export class EngineError extends Error {
  constructor(
    message: string,
    readonly kind: 'not_found' | 'no_memory' | 'start_failed' | 'timeout' | 'crashed' | 'stopped',
  ) {
    super(message)
    this.name = 'EngineError'
  }
}

/** A model file being fetched into `<data>/models/` (an `hf:` model the first time it is needed). */
export interface DownloadProgress {
  /** Registry id of the model. */
  model: string
  /** Where the file goes once complete. */
  file: string
  url: string
  receivedBytes: number
  /** From the server's Content-Length / Content-Range; null while unknown. */
  totalBytes: number | null
  bytesPerSecond: number
  etaSeconds: number | null
  state: 'downloading' | 'done' | 'failed'
  error: string | null
}
