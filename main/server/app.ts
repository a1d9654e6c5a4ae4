import Koa from 'koa'
import Router from '@koa/router'
import type { Logger } from 'pino'
import type { BatchService } from '../batch/batch-service'
import type { Settings } from '../config/settings'
import type { Store } from '../store'
import type { FileStorage } from '../store/file-storage'
import { errorEnvelope, requestId, requireApiKey, type AppState } from './middleware'
import { filesRouter } from './routes/files'
import { batchesRouter } from './routes/batches'
import { inferenceRouter } from './routes/inference'
import { engineRouter } from './routes/engine-api'
import type { Engine } from '../engine/engine'
import type { ProxyStats } from '../engine/proxy-stats'
import type { ModelRegistry } from '../config/models'

export interface AppDeps {
  settings: Settings
  apiKey: () => string
  store: Store
  files: FileStorage
  batches: BatchService
  log: Logger
  version: string
  startedAt: number
  engine: Engine
  stats: ProxyStats
  registry: () => ModelRegistry
  registryStatus: () => { path: string; error: string | null }
}

/** The service's one HTTP surface, read top to bottom: request id, error envelope, health, auth, routes. */
export function createApp(deps: AppDeps): Koa<AppState> {
  const app = new Koa<AppState>({ proxy: false })
  app.silent = true // errors are logged by the envelope middleware

  const open = new Router<AppState>()
  open.get('/health', (ctx) => {
    const engine = deps.engine.status()
    ctx.body = {
      status: 'ok',
      version: deps.version,
      uptime_s: Math.round((Date.now() - deps.startedAt) / 1000),
      engine: { state: engine.state, model: engine.model, phase: engine.phase, error: engine.lastError },
    }
  })

  const routers = [
    filesRouter(deps),
    batchesRouter(deps),
    inferenceRouter(deps),
    engineRouter({ ...deps, maxJsonBodyBytes: deps.settings.maxJsonBodyBytes }),
  ]

  app.use(requestId())
  app.use(errorEnvelope(deps.log))
  app.use(open.routes())
  app.use(requireApiKey(deps.apiKey))
  for (const r of routers) {
    app.use(r.routes())
    app.use(r.allowedMethods({ throw: true }))
  }
  return app
}
