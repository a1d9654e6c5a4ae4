import { PassThrough } from 'node:stream'
import Router from '@koa/router'
import type { Scheduler } from '../../batch/scheduler'
import type { Settings } from '../../config/settings'
import type { Engine } from '../../engine/engine'
import type { ServiceEventMap, ServiceEvents } from '../../events'
import type { GpuTelemetry } from '../../gpu/telemetry'
import type { ThermalGuard } from '../../gpu/thermal-guard'
import type { Store } from '../../store'
import type { AppState } from '../middleware'

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
}

/** A runner heartbeat older than this, while a job runs, makes /health say `degraded`. */
const STALE_HEARTBEAT_MS = 60_000
const SSE_KEEPALIVE_MS = 15_000

/** The health document: what a person or a monitor needs to know at a glance. */
export function health(d: StatusDeps): Record<string, unknown> {
  const engine = d.engine.status()
  const gpuStatus = d.gpu.status()
  const sample = d.gpu.current()
  const info = d.gpu.info()
  const heartbeatAgeMs = d.scheduler.heartbeatAgeMs
  const running = d.scheduler.runningBatch
  const paused = d.scheduler.paused || d.thermal.paused
  const pausedReason = d.scheduler.paused ? 'paused by the user' : d.thermal.paused ? d.thermal.reason : null
  const stale = running !== null && heartbeatAgeMs > STALE_HEARTBEAT_MS
  const degraded = d.thermal.paused || engine.state === 'failed' || stale
  return {
    status: degraded ? 'degraded' : 'ok',
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
      heartbeat_age_s: Math.round(heartbeatAgeMs / 100) / 10,
      current_job: running,
      paused,
      paused_reason: pausedReason,
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

/** GET /health (no key), GET /api/gpu and GET /api/events (SSE). */
export function statusRouters(d: StatusDeps): { open: Router<AppState>; authed: Router<AppState> } {
  const open = new Router<AppState>()
  open.get('/health', (ctx) => {
    ctx.body = health(d)
  })

  const authed = new Router<AppState>()
  authed.get('/api/gpu', (ctx) => {
    const since = Number(ctx.query.since ?? 0) || undefined
    ctx.body = {
      status: d.gpu.status(),
      info: d.gpu.info(),
      current: d.gpu.current(),
      history: d.gpu.history(since),
      thermal: { paused: d.thermal.paused, reason: d.thermal.reason, pause_c: d.thermal.pauseC, resume_c: d.thermal.resumeC },
    }
  })

  authed.get('/api/events', (ctx) => {
    const stream = new PassThrough()
    const send = (event: string, data: unknown): void => {
      stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    }
    const names: (keyof ServiceEventMap)[] = ['batch.status', 'batch.progress', 'engine.state', 'model.download', 'gpu.sample', 'gpu.status', 'thermal', 'file.created', 'file.deleted', 'settings.changed']
    const offs = names.map((name) => d.events.on(name, (payload) => send(name, payload)))
    const keepalive = setInterval(() => stream.write(': keepalive\n\n'), SSE_KEEPALIVE_MS)
    const close = (): void => {
      clearInterval(keepalive)
      for (const off of offs) off()
      stream.end()
    }
    offs.push(d.events.on('service.stopping', close))
    ctx.req.once('close', close)
    ctx.req.socket.setTimeout(0)
    ctx.type = 'text/event-stream'
    ctx.set('cache-control', 'no-cache')
    ctx.set('x-accel-buffering', 'no')
    ctx.body = stream
    send('hello', { health: health(d), engine: d.engine.status(), gpu: d.gpu.current() })
  })
  return { open, authed }
}
