import type { BatchObject, BatchStatus } from './batches'
import type { DownloadProgress, EngineState, EngineStatus } from './engine'
import type { GpuSample, GpuStatus, ThermalDecision } from './gpu'
import type { Health } from './health'
import type { BatchProgress } from './jobs'
import type { WebhookDeliveryState, WebhookEventType } from './webhooks'

/** The events `GET /api/events` streams (Server-Sent Events: `event: <name>`, `data: <JSON>`). */
export interface StreamEventMap {
  /** The first event of every stream: where things stand. */
  hello: { health: Health; engine: EngineStatus; gpu: GpuSample | null }
  'batch.status': { batch: BatchObject; from: BatchStatus; to: BatchStatus }
  'batch.progress': { id: string; progress: BatchProgress }
  'file.created': { id: string; purpose: string; bytes: number }
  'file.deleted': { id: string }
  'engine.state': { from: EngineState; status: EngineStatus }
  'model.download': DownloadProgress
  'gpu.sample': GpuSample
  'gpu.status': GpuStatus
  thermal: ThermalDecision
  /** The settings changed: `GET /api/settings` has them. */
  'settings.changed': Record<string, never>
  /** A webhook was delivered, gave up (dead) or was sent for redelivery: `GET /api/webhooks/deliveries` has it. */
  'webhook.delivery': { id: string; event: WebhookEventType; batch_id: string; state: WebhookDeliveryState }
}
export type StreamEventName = keyof StreamEventMap

/** The events the stream forwards from the service, in the order a client subscribes to them. */
export const STREAM_EVENTS: readonly Exclude<StreamEventName, 'hello'>[] = [
  'batch.status', 'batch.progress', 'engine.state', 'model.download', 'gpu.sample', 'gpu.status', 'thermal', 'file.created', 'file.deleted', 'settings.changed',
  'webhook.delivery',
]
