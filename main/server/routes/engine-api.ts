import http from 'node:http'
import Router from '@koa/router'
import { badRequest, notFound } from '../../api-error'
import type { ModelRegistry } from '../../config/models'
import type { Engine } from '../../engine/engine'
import type { ModelDownloads } from '../../engine/model-download'
import type { EngineKind, EngineState } from '../../engine/engine-types'
import type { ProxyStats } from '../../engine/proxy-stats'
import type { Store } from '../../store'
import type { BatchStatus } from '../../contract/batches'
import type { AdminAccess } from '../admin-access'
import { readJsonBody } from '../json-body'
import type { AppState } from '../middleware'
import { echo } from '../../api-params'

export interface EngineApiDeps {
  engine: Engine
  downloads: ModelDownloads
  registry: () => ModelRegistry
  registryStatus: () => { path: string; error: string | null }
  stats: ProxyStats
  store: Store
  startedAt: number
  maxJsonBodyBytes: number
  /** Start, stop, switch and downloads are admin actions (this machine, or the admin key). */
  admin: AdminAccess
  /** Real-time requests waiting for the engine, for /metrics. */
  waiting: { bodies: number; bytes: number }
}

const ENGINE_STATES: EngineState[] = ['stopped', 'starting', 'ready', 'stopping', 'failed', 'sleeping']
const BATCH_STATUSES: BatchStatus[] = ['validating', 'failed', 'in_progress', 'finalizing', 'completed', 'expired', 'cancelling', 'cancelled']

/** /v1/models, /api/engine (status, start, stop, switch) and /metrics. */
export function engineRouter(deps: EngineApiDeps): Router<AppState> {
  const { engine, registry } = deps
  const router = new Router<AppState>()

  const modelObject = (id: string): Record<string, unknown> | null => {
    const m = registry().resolve(id)
    if (!m) return null
    const status = engine.status()
    const caps = engine.capabilities(m.id)
    return {
      id: m.id,
      object: 'model',
      created: Math.floor(deps.startedAt / 1000),
      owned_by: 'vllm-batch-server',
      engine: m.engine,
      capabilities: { embeddings: caps.embeddings, priority: caps.priority },
      loaded: status.state === 'ready' && status.model === m.id,
      max_model_len: m.max_model_len ?? m.context_size ?? null,
      aliases: m.aliases,
      description: m.description ?? null,
      // An hf: GGUF is fetched when first needed: whether it is here yet.
      downloaded: m.engine === 'llama.cpp' && m.model.startsWith('hf:') ? deps.downloads.isPresent(m.model) : null,
    }
  }

  router.get('/v1/models', (ctx) => {
    ctx.body = { object: 'list', data: registry().models.map((m) => modelObject(m.id)) }
  })

  // Model names may hold a slash (an alias like openai/gpt-oss-20b), which the SDK sends as it is.
  router.get('/v1/models/*id', (ctx) => {
    const model = modelObject(ctx.params.id)
    if (!model) throw notFound(`The model ${echo(ctx.params.id)} does not exist.`, 'model')
    ctx.body = model
  })

  router.get('/api/engine', (ctx) => {
    ctx.body = { ...engine.status(), defaultModel: engine.defaultModel(), downloads: deps.downloads.all(), registry: deps.registryStatus() }
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
    ctx.body = { model: m.id, file: deps.downloads.localPath(m.model), downloaded: present, progress: deps.downloads.progress(m.id) }
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

  router.get('/metrics', async (ctx) => {
    const status = engine.status()
    const lines: string[] = []
    const gauge = (name: string, help: string, samples: [string, number][]): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`)
      for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`)
    }
    gauge('vbs_engine_state', 'Engine state (1 for the current one).', ENGINE_STATES.map((s) => [`{state="${s}"}`, s === status.state ? 1 : 0]))
    gauge('vbs_engine_ready', 'Whether a model is loaded and serving.', [[`{model="${status.model ?? ''}"}`, status.state === 'ready' ? 1 : 0]])
    gauge('vbs_engine_restarts', 'Engine restarts after crashes in the current window.', [['', status.restarts]])
    gauge('vbs_engine_uptime_seconds', 'Seconds since the engine became ready.', [['', status.uptimeS ?? 0]])
    gauge('vbs_engine_requests_in_flight', 'Requests being served by the engine through this service.', [['', status.inFlight]])
    gauge('vbs_realtime_requests_waiting', 'Real-time requests whose body is held while they wait for the engine (a model loading).', [['', deps.waiting.bodies]])
    gauge('vbs_realtime_waiting_body_bytes', 'Bytes of the bodies of the real-time requests waiting for the engine.', [['', deps.waiting.bytes]])
    const counts = deps.store.batches.countByStatus()
    gauge('vbs_batches', 'Batches by status.', BATCH_STATUSES.map((s) => [`{status="${s}"}`, counts.get(s) ?? 0]))
    gauge('vbs_queued_requests', 'Requests waiting in active batches.', [['', deps.store.batches.queuedRequests()]])
    lines.push('# HELP vbs_realtime_requests_total Real-time API requests by endpoint and status.', '# TYPE vbs_realtime_requests_total counter')
    for (const [path, code, n] of deps.stats.counts()) lines.push(`vbs_realtime_requests_total{endpoint="${path}",code="${code}"} ${n}`)
    const prefix = METRIC_PREFIX[status.kind]
    if (status.state === 'ready' && status.port !== null && prefix) {
      const scraped = await scrape(status.port, prefix)
      if (scraped) lines.push(scraped.trimEnd())
    }
    ctx.type = 'text/plain; version=0.0.4; charset=utf-8'
    ctx.body = `${lines.join('\n')}\n`
  })

  return router
}

/** The series of each supervised engine's own /metrics that /metrics passes on. */
const METRIC_PREFIX: Record<EngineKind, string | null> = { vllm: 'vllm:', 'llama.cpp': 'llamacpp:', remote: null }

/** The engine's own series from its /metrics (null when it does not answer within a second). */
function scrape(port: number, prefix: string): Promise<string | null> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', timeout: 1000, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume()
        return resolve(null)
      }
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => {
        if (text.length < 4 * 1024 * 1024) text += d
      })
      res.on('end', () =>
        resolve(
          text
            .split('\n')
            .filter((l) => l.startsWith(prefix) || ((l.startsWith('# HELP ') || l.startsWith('# TYPE ')) && l.slice(7).startsWith(prefix)))
            .join('\n'),
        ),
      )
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(null))
  })
}
