/**
 * The shapes the dashboard reads from the service. The service's own types are imported as types only (the
 * renderer never imports code from main/); the rest are the JSON documents of this app's `/api/*` routes.
 */
import type { BatchErrorEntry, BatchObject, BatchStatus } from '../../main/contract/batches'
import type { BatchProgress } from '../../main/batch/progress'
import type { DownloadProgress, EngineKind, EngineState, EngineStatus } from '../../main/engine/engine-types'
import type { GpuInfo, GpuSample, GpuStatus } from '../../main/gpu/telemetry'
import type { ThermalDecision } from '../../main/gpu/thermal-guard'
import type { ServiceEventMap } from '../../main/events'
import type { Health, HealthProblem } from '../../main/contract/health'

export type { Health, HealthProblem }
export type { BatchErrorEntry, BatchObject, BatchProgress, BatchStatus, DownloadProgress, EngineKind, EngineState, EngineStatus, GpuInfo, GpuSample, GpuStatus, ThermalDecision }

/** OpenAI's error envelope, which every failing route answers with. */
export interface ErrorEnvelope {
  error: { message: string; type?: string; param: string | null; code: string | null }
}

/** `GET /api/engine`. */
export interface EngineView extends EngineStatus {
  registry?: { path: string; error: string | null }
}

/** One entry of `GET /v1/models`. */
export interface ModelInfo {
  id: string
  /** Which engine runs it: vllm, llama.cpp or remote. */
  engine: EngineKind
  loaded: boolean
  aliases: string[]
  max_model_len: number | null
  description: string | null
}

export interface ThermalView {
  paused: boolean
  reason: string | null
  pause_c: number
  resume_c: number
}

/** `GET /api/gpu`. */
export interface GpuView {
  status: GpuStatus
  info: GpuInfo
  current: GpuSample | null
  history: GpuSample[]
  thermal: ThermalView
}

/** A batch as `GET /api/batches` shows it: the OpenAI object plus why it waits and how far it is. */
export interface Job extends BatchObject {
  status_detail: string | null
  progress: BatchProgress | null
  running: boolean
}

export interface JobPage {
  data: Job[]
  has_more: boolean
  paused: boolean
}

/** One dead letter of `GET /api/batches/{id}/failed`. */
export interface FailedRequest {
  custom_id: string
  line: number
  error_type: string
  message: string
  attempts: number
}

/** `POST /v1/files`. */
export interface FileObject {
  id: string
  object: 'file'
  bytes: number
  created_at: number
  filename: string
  purpose: string
}

/** The settings the dashboard may change with `PUT /api/settings`. */
export interface SettingsPatch {
  port?: number
  lan?: boolean
  thermal_pause_c?: number
  thermal_resume_c?: number
  chunk_size?: number
  start_at_login?: boolean
}
export type SettingsField = keyof SettingsPatch

/** `GET /api/settings`. */
export interface SettingsView {
  port: number
  lan: boolean
  host: string
  thermal_pause_c: number
  thermal_resume_c: number
  chunk_size: number
  start_at_login: boolean
  /** Whether this client may change settings, the key and the engine (this machine, or the admin key). */
  admin?: boolean
  /** Shown to admins only; null for a LAN client without the admin key (it already has the key it sent). */
  api_key: string | null
  api_key_origin: string
  listening: { host: string; port: number }
  /** The base URL another machine would use (the LAN address when the service serves the LAN). */
  share_url?: string
  restart_required: boolean
  /** Field -> the environment variable that sets it (and so makes it read-only here). */
  locked: Partial<Record<SettingsField, string>>
}

/** What `GET /api/events` sends: the service's events plus the greeting every new stream starts with. */
export interface EventMap extends Omit<ServiceEventMap, 'service.stopping'> {
  hello: { health: Health; engine: EngineStatus; gpu: GpuSample | null }
}
export type EventName = keyof EventMap
