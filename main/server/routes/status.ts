import Router from '@koa/router'
import type { Logger } from 'pino'
import type { Scheduler } from '../../batch/scheduler'
import type { Settings } from '../../config/settings'
import type { Engine } from '../../engine/engine'
import type { ServiceEvents } from '../../events'
import type { GpuTelemetry } from '../../gpu/telemetry'
import type { ThermalGuard } from '../../gpu/thermal-guard'
import type { Store } from '../../store'
import type { DiskSpace } from '../../store/disk-space'
import type { HealthDocument, HealthProblem, OpenHealth } from '../../contract/health'
import type { GpuView } from '../../contract/gpu'
import { presentsApiKey, type AppState } from '../middleware'

export interface StatusDeps {
  settings: Settings
  store: Store
  engine: Engine
  scheduler: Scheduler
  gpu: GpuTelemetry
  thermal: ThermalGuard
  events: ServiceEvents
  version: string
  startedAt: number
  apiKey: () => string
  log: Pick<Logger, 'info'>
  /** The data dir's disk (files.disk): /health says when it is full. */
  disk: Pick<DiskSpace, 'full' | 'freeBytes' | 'minFreeBytes'>
}

/** A runner heartbeat older than this, while a job runs, makes /health say `degraded`. */
const STALE_HEARTBEAT_MS = 60_000

/** The health document: what a person or a monitor needs to know at a glance. */
export function health(d: StatusDeps): HealthDocument {
  const engine = d.engine.status()
  const gpuStatus = d.gpu.status()
  const sample = d.gpu.current()
  const info = d.gpu.info()
  const heartbeatAgeMs = d.scheduler.heartbeatAgeMs
  const running = d.scheduler.runningBatch
  const paused = d.scheduler.paused || d.thermal.paused
  const pausedReason = d.scheduler.paused ? 'paused by the user' : d.thermal.paused ? d.thermal.reason : null
  const stale = running !== null && heartbeatAgeMs > STALE_HEARTBEAT_MS
  const diskFull = d.disk.full
  const problems = healthProblems({
    disk_full: diskFull !== null,
    loop_not_beating: !d.scheduler.beating,
    runner_stale: stale,
    engine_failed: engine.state === 'failed',
    thermal_pause: d.thermal.paused,
  })
  return {
    status: problems.length > 0 ? 'degraded' : 'ok',
    problems,
    version: d.version,
    uptime_s: Math.round((Date.now() - d.startedAt) / 1000),
    gpu: {
      available: gpuStatus.available,
      reason: gpuStatus.reason,
      name: info.name,
      temperature_c: sample?.temperatureC ?? null,
      memory: { used_mib: sample?.memoryUsedMiB ?? null, total_mib: sample?.memoryTotalMiB ?? info.vramTotalMiB },
      utilization_pct: sample?.utilizationPct ?? null,
      healthy: !d.thermal.paused,
    },
    engine: { state: engine.state, model: engine.model, phase: engine.phase, error: engine.lastError },
    runner: {
      state: d.scheduler.currentState,
      beating: d.scheduler.beating,
      loop_error: d.scheduler.loopError,
      heartbeat_age_s: Math.round(heartbeatAgeMs / 100) / 10,
      current_job: running,
      paused,
      paused_reason: pausedReason,
    },
    disk: {
      full: diskFull !== null,
      reason: diskFull?.reason ?? null,
      since: diskFull ? new Date(diskFull.since).toISOString() : null,
      free_mb: freeMegabytes(d.disk),
      min_free_mb: Math.round(d.disk.minFreeBytes / 1024 / 1024),
    },
    queue: { active_jobs: d.store.batches.countActive(), queued_requests: d.store.batches.queuedRequests() },
    limits: {
      max_active_batches: d.settings.maxActiveBatches,
      max_queued_requests: d.settings.maxQueuedRequests,
      max_requests_per_batch: d.settings.maxRequestsPerBatch,
      max_file_bytes: d.settings.maxFileBytes,
      thermal_pause_c: d.thermal.pauseC,
      thermal_resume_c: d.thermal.resumeC,
    },
  }
}

/**
 * What is wrong, as stable codes a monitor can match (also shown without the key): `disk_full` (a write failed
 * for lack of space; jobs are held until there is room), `loop_not_beating` (the batch scheduler's loop is not
 * turning), `runner_stale` (a job runs but sent nothing for a minute), `engine_failed`, `thermal_pause`.
 */
function healthProblems(flags: Record<HealthProblem, boolean>): HealthProblem[] {
  return (Object.keys(flags) as HealthProblem[]).filter((code) => flags[code])
}

/** Free megabytes on the data disk, or null when it cannot be read (the folder is gone). */
function freeMegabytes(disk: StatusDeps['disk']): number | null {
  try {
    return Math.floor(disk.freeBytes() / 1024 / 1024)
  } catch {
    return null
  }
}

/**
 * GET /health (no key: whether it is up, what is wrong as codes, and its version; with the key: the whole
 * document, whose engine errors and paths are for the owner) and GET /api/gpu. The event stream is events.ts.
 */
export function statusRouters(d: StatusDeps): { open: Router<AppState>; authed: Router<AppState> } {
  const open = new Router<AppState>()
  open.get('/health', (ctx) => {
    const doc = health(d)
    const open: OpenHealth = { status: doc.status, problems: doc.problems, version: doc.version }
    ctx.body = presentsApiKey(ctx, d.apiKey) ? doc : open
  })

  const authed = new Router<AppState>()
  authed.get('/api/gpu', (ctx) => {
    const since = Number(ctx.query.since ?? 0) || undefined
    const view: GpuView = {
      status: d.gpu.status(),
      info: d.gpu.info(),
      current: d.gpu.current(),
      history: d.gpu.history(since),
      thermal: { paused: d.thermal.paused, reason: d.thermal.reason, pause_c: d.thermal.pauseC, resume_c: d.thermal.resumeC },
    }
    ctx.body = view
  })

  return { open, authed }
}
