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
