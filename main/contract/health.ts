import type { EngineState } from './engine'
import type { SchedulerState } from './jobs'

/** What is wrong with the service, as codes a monitor can match (`GET /health` says them also without the key). */
export type HealthProblem =
  /** A write failed for lack of space: jobs are held until there is room. */
  | 'disk_full'
  /** The batch scheduler's loop is not turning. */
  | 'loop_not_beating'
  /** A job runs but has sent nothing for a minute. */
  | 'runner_stale'
  | 'engine_failed'
  /** Batches are paused for GPU heat. */
  | 'thermal_pause'

/** `GET /health` without the API key: whether the service is up, what is wrong, its version. */
export interface OpenHealth {
  status: 'ok' | 'degraded'
  problems: HealthProblem[]
  version: string
}

/** `GET /health` with the API key: the whole document. */
export interface HealthDocument extends OpenHealth {
  uptime_s: number
  gpu: {
    available: boolean
    reason: string | null
    name: string | null
    temperature_c: number | null
    memory: { used_mib: number | null; total_mib: number | null }
    utilization_pct: number | null
    healthy: boolean
  }
  engine: { state: EngineState; model: string | null; phase: string | null; error: string | null }
  runner: { state: SchedulerState; beating: boolean; loop_error: string | null; heartbeat_age_s: number; current_job: string | null; paused: boolean; paused_reason: string | null }
  disk: { full: boolean; reason: string | null; since: string | null; free_mb: number | null; min_free_mb: number }
  queue: { active_jobs: number; queued_requests: number }
  limits: {
    max_active_batches: number
    max_queued_requests: number
    max_requests_per_batch: number
    max_file_bytes: number
    thermal_pause_c: number
    thermal_resume_c: number
  }
}

/** What a client may get from `GET /health`: the open part always, the rest when its key was right. */
export type Health = OpenHealth & Partial<Omit<HealthDocument, keyof OpenHealth>>
