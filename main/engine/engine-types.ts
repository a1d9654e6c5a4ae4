import type { EngineKind } from '../config/models'
import type { LoadingPhase } from './loading-phase'

export type { EngineKind }

/** The engine's lifecycle. */
export type EngineState = 'stopped' | 'starting' | 'ready' | 'stopping' | 'failed' | 'sleeping'

/** What may follow each state, for every kind of engine. */
export const ENGINE_TRANSITIONS: Readonly<Record<EngineState, readonly EngineState[]>> = {
  stopped: ['starting', 'failed'],
  starting: ['ready', 'failed', 'stopping', 'starting'],
  ready: ['stopping', 'starting', 'failed', 'sleeping'],
  sleeping: ['ready', 'stopping', 'starting', 'failed'],
  stopping: ['stopped'],
  failed: ['starting', 'stopping', 'stopped', 'failed'],
}

export interface EngineStatus {
  /** Which kind of engine this is (vLLM, our llama.cpp child, a remote server). */
  kind: EngineKind
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
  /** The model file being downloaded before the start (an `hf:` GGUF), if any. */
  download: DownloadProgress | null
  /** Where a remote engine is (its base URL; never its key). */
  remoteUrl: string | null
}

/** Something stopped the engine from doing what was asked; the message is for the user. */
export class EngineError extends Error {
  constructor(
    message: string,
    readonly kind: 'not_found' | 'no_memory' | 'start_failed' | 'timeout' | 'crashed' | 'stopped' | 'unreachable' | 'download_failed' | 'misconfigured',
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
