import Router from '@koa/router'
import { badRequest, notFound } from '../../api-error'
import type { ModelRegistry } from '../../config/models'
import type { Engine } from '../../engine/engine'
import type { ModelDownloads } from '../../engine/model-download'
import type { RequestCounters } from '../request-counters'
import type { Store } from '../../store'
import type { AdminAccess } from '../admin-access'
import { readJsonBody } from '../json-body'
import type { AppState } from '../middleware'
import { echo } from '../../api-params'
import type { EngineView, ModelDownloadStart } from '../../contract/engine'

export interface EngineApiDeps {
  engine: Engine
  downloads: ModelDownloads
  registry: () => ModelRegistry
  registryStatus: () => { path: string; error: string | null }
  stats: RequestCounters
  store: Store
  startedAt: number
  maxJsonBodyBytes: number
  /** Start, stop, switch and downloads are admin actions (this machine, or the admin key). */
  admin: AdminAccess
  /** VBS_WARM_POOL_GB as it applies (GiB of host RAM for sleeping models). */
  warmPoolGb: number
  /** Real-time requests waiting for the engine, for /metrics. */
  waiting: { bodies: number; bytes: number }
}

/** /api/engine: the engine's status, start, stop and switch, and model downloads. /v1/models is models.ts, /metrics metrics.ts. */
export function engineRouter(deps: EngineApiDeps): Router<AppState> {
  const { engine, registry } = deps
  const router = new Router<AppState>()

  router.get('/api/engine', (ctx) => {
    const view: EngineView = { ...engine.status(), defaultModel: engine.defaultModel(), warmPoolGb: deps.warmPoolGb, downloads: deps.downloads.all(), registry: deps.registryStatus() }
    ctx.body = view
  })

  // Fetches an hf: model's file ahead of its first use; GET /api/engine and model.download events follow it.
  router.post('/api/models/*id/download', deps.admin.require, (ctx) => {
    const m = registry().resolve(ctx.params.id)
    if (!m) throw notFound(`The model ${echo(ctx.params.id)} does not exist: it is not in models.yaml.`, 'model')
    if (m.engine !== 'llama.cpp' || !m.model.startsWith('hf:')) {
      throw badRequest(`The model '${m.id}' has no file to download: only llama.cpp models with an hf: reference are downloaded.`, 'invalid_value', 'model')
    }
    const present = deps.downloads.isPresent(m.model)
    if (!present) void deps.downloads.ensure(m.id, m.model).catch(() => undefined) // the failure is in the progress
    ctx.status = present ? 200 : 202
    const body: ModelDownloadStart = { model: m.id, file: deps.downloads.localPath(m.model), downloaded: present, progress: deps.downloads.progress(m.id) }
    ctx.body = body
  })

  const modelParam = async (required: boolean, ctx: Parameters<Parameters<typeof router.post>[1]>[0]): Promise<string | undefined> => {
    const body = await readJsonBody(ctx, deps.maxJsonBodyBytes)
    if (body.model === undefined && !required) return undefined
    if (typeof body.model !== 'string' || body.model === '') {
      throw badRequest("Missing required parameter: 'model' (an id or alias from models.yaml).", 'missing_required_parameter', 'model')
    }
    if (!registry().resolve(body.model)) throw notFound(`The model ${echo(body.model)} does not exist: it is not in models.yaml.`, 'model')
    return body.model
  }

  // Loading takes from seconds to minutes: start and switch answer 202 at once; GET /api/engine follows it
  // (a failure shows there as `failed` with the reason).
  for (const [route, modelRequired] of [['/api/engine/start', false], ['/api/engine/switch', true]] as const) {
    router.post(route, deps.admin.require, async (ctx) => {
      const model = await modelParam(modelRequired, ctx)
      engine.checkStartable(model)
      void engine.start(model).catch(() => undefined)
      ctx.status = 202
      ctx.body = engine.status()
    })
  }
  router.post('/api/engine/stop', deps.admin.require, async (ctx) => {
    await engine.stop()
    ctx.body = engine.status()
  })

  return router
}

