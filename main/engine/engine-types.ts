import type { EngineState } from '../contract/engine'

export type { DownloadProgress, EngineKind, EngineState, EngineStatus, WarmEngine } from '../contract/engine'

/** What may follow each state, for every kind of engine. */
export const ENGINE_TRANSITIONS: Readonly<Record<EngineState, readonly EngineState[]>> = {
  stopped: ['starting', 'failed'],
  starting: ['ready', 'failed', 'stopping', 'starting'],
  ready: ['stopping', 'starting', 'failed', 'sleeping'],
  // Asleep, the engine serves nothing; it wakes, is stopped (evicted from the pool) or is dropped (it died).
  sleeping: ['waking', 'stopping'],
  waking: ['ready', 'stopping'],
  stopping: ['stopped'],
  failed: ['starting', 'stopping', 'stopped', 'failed'],
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
