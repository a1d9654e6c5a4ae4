import Koa from 'koa'
import type { Logger } from 'pino'
import type { BatchService } from '../batch/batch-service'
import type { Settings } from '../config/settings'
import type { Store } from '../store'
import type { FileService } from '../files/file-service'
import { errorEnvelope, requestId, requireApiKey, type AppState } from './middleware'
import { filesRouter } from './routes/files'
import { batchesRouter } from './routes/batches'
import { inferenceRouter } from './routes/inference'
import { engineRouter } from './routes/engine-api'
import { batchAdminRouter } from './routes/batch-admin'
import { resultsRouter } from './routes/results'
import { comparisonsRouter } from './routes/comparisons'
import type { ComparisonService } from '../compare/comparison-service'
import type { Scheduler } from '../batch/scheduler'
import type { GpuTelemetry } from '../gpu/telemetry'
import type { ThermalGuard } from '../gpu/thermal-guard'
import type { ServiceEvents } from '../events'
import { eventsRouter } from './routes/events'
import { metricsRouter } from './routes/metrics'
import { modelsRouter } from './routes/models'
import { statusRouters } from './routes/status'
import { settingsRouter, type SettingsControl } from './routes/settings-api'
import { dashboardRouter } from './routes/dashboard'
import { dashboardDir } from '../config/app-paths'
import type { Engine } from '../engine/engine'
import type { ModelDownloads } from '../engine/model-download'
import type { RequestCounters } from './request-counters'
import type { ModelRegistry } from '../config/models'
import { adminAccess } from './admin-access'
import { hostGuard, HostPolicy } from './host-guard'
import { BODY_RATE_WINDOW_MS, slowBodyGuard } from './slow-body-guard'
import { WaitingBodies } from './waiting-bodies'
import { webhooksRouter } from './routes/webhooks'
import type { WebhookOutbox } from '../webhooks/outbox'

export interface AppDeps {
  settings: Settings
  apiKey: () => string
  store: Store
  files: FileService
  batches: BatchService
  comparisons: ComparisonService
  log: Logger
  version: string
  startedAt: number
  engine: Engine
  downloads: ModelDownloads
  stats: RequestCounters
  registry: () => ModelRegistry
  registryStatus: () => { path: string; error: string | null }
  /** VBS_WARM_POOL_GB as it applies (GiB of host RAM for sleeping models). */
  warmPoolGb: number
  scheduler: Scheduler
  settingsControl: SettingsControl
  gpu: GpuTelemetry
  thermal: ThermalGuard
  events: ServiceEvents
  webhooks: WebhookOutbox
  /** The request-body rate is averaged over windows this long (tests shorten it). */
  bodyRateWindowMs?: number
}

/**
 * The service's one HTTP surface, read top to bottom: request id, error envelope, Host check, health and the
 * dashboard, auth, the body-rate watchdog, routes (admin actions check for an admin on the route).
 */
export function createApp(deps: AppDeps): Koa<AppState> {
  const app = new Koa<AppState>({ proxy: false })
  app.silent = true // errors are logged by the envelope middleware

  const s = deps.settings
  const statusDeps = { ...deps, disk: deps.files.disk }
  const status = statusRouters(statusDeps)
  const admin = adminAccess(() => s.adminKey)
  const waiting = new WaitingBodies({ maxBodies: s.maxWaitingBodies, maxBytes: s.maxWaitingBodyBytes, retryAfterSeconds: s.retryAfterSeconds })

  const routers = [
    filesRouter(deps),
    batchesRouter(deps),
    inferenceRouter({ ...deps, waiting }),
    modelsRouter(deps),
    metricsRouter({ ...deps, waiting }),
    engineRouter({ ...deps, maxJsonBodyBytes: s.maxJsonBodyBytes, admin, waiting }),
    batchAdminRouter({ ...deps, admin, maxJsonBodyBytes: s.maxJsonBodyBytes }),
    resultsRouter(deps),
    comparisonsRouter({ comparisons: deps.comparisons, maxJsonBodyBytes: s.maxJsonBodyBytes }),
    webhooksRouter({ webhooks: deps.webhooks, admin, maxJsonBodyBytes: s.maxJsonBodyBytes }),
    status.authed,
    eventsRouter(statusDeps),
    settingsRouter(deps.settingsControl, s.maxJsonBodyBytes, admin),
  ]

  app.use(requestId())
  app.use(errorEnvelope(deps.log, deps.files.disk))
  app.use(hostGuard(new HostPolicy({ allowedHosts: s.allowedHosts })))
  app.use(status.open.routes())
  app.use(dashboardRouter(dashboardDir()).routes())
  app.use(requireApiKey(deps.apiKey))
  app.use(slowBodyGuard({ minBytesPerSecond: s.uploadMinBytesPerSecond, windowMs: deps.bodyRateWindowMs ?? BODY_RATE_WINDOW_MS, log: deps.log }))
  for (const r of routers) {
    app.use(r.routes())
    app.use(r.allowedMethods({ throw: true }))
  }
  return app
}
