import Router from '@koa/router'
import { notFound } from '../../api-error'
import { echo } from '../../api-params'
import type { AppState } from '../middleware'
import type { EngineApiDeps } from './engine-api'
import type { ModelList, ModelObject } from '../../contract/models'

/** GET /v1/models and /v1/models/{id}: the registry, with each model's engine, capabilities and whether it is loaded. */
export function modelsRouter(deps: Pick<EngineApiDeps, 'engine' | 'registry' | 'downloads' | 'startedAt'>): Router<AppState> {
  const { engine, registry } = deps
  const router = new Router<AppState>()

  const modelObject = (id: string): ModelObject | null => {
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
    const list: ModelList = { object: 'list', data: registry().models.map((m) => modelObject(m.id)!) }
    ctx.body = list
  })

  // Model names may hold a slash (an alias like openai/gpt-oss-20b), which the SDK sends as it is.
  router.get('/v1/models/*id', (ctx) => {
    const model = modelObject(ctx.params.id)
    if (!model) throw notFound(`The model ${echo(ctx.params.id)} does not exist.`, 'model')
    ctx.body = model
  })

  return router
}
