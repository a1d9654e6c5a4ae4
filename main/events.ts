import { EventEmitter } from 'node:events'
import type { BatchObject, BatchStatus } from './batch/batch-types'
import type { DownloadProgress, EngineState, EngineStatus } from './engine/engine-types'
import type { BatchProgress } from './batch/progress'
import type { GpuSample, GpuStatus } from './gpu/telemetry'
import type { ThermalDecision } from './gpu/thermal-guard'

/** Everything the service announces: the dashboard's SSE stream and the tray listen here. */
export interface ServiceEventMap {
  'batch.status': { batch: BatchObject; from: BatchStatus; to: BatchStatus }
  'file.created': { id: string; purpose: string; bytes: number }
  'file.deleted': { id: string }
  'engine.state': { from: EngineState; status: EngineStatus }
  'model.download': DownloadProgress
  'batch.progress': { id: string; progress: BatchProgress }
  'gpu.sample': GpuSample
  'gpu.status': GpuStatus
  thermal: ThermalDecision
  'settings.changed': { settings: import('./config/settings').Settings }
  /** The service is stopping: long-lived streams end now. */
  'service.stopping': Record<string, never>
}

export class ServiceEvents {
  private readonly emitter = new EventEmitter()

  constructor() {
    this.emitter.setMaxListeners(100)
  }

  emit<K extends keyof ServiceEventMap>(name: K, payload: ServiceEventMap[K]): void {
    this.emitter.emit(name, payload)
  }

  on<K extends keyof ServiceEventMap>(name: K, listener: (payload: ServiceEventMap[K]) => void): () => void {
    this.emitter.on(name, listener)
    return () => this.emitter.off(name, listener)
  }
}
