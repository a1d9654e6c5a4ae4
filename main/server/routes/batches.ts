import Router from '@koa/router'
import type { BatchService } from '../../batch/batch-service'
import type { Settings } from '../../config/settings'
import type { ModelRegistry } from '../../config/models'
import type { WebhookOutbox } from '../../webhooks/outbox'
import { ApiError, badRequest } from '../../api-error'
import { describeType, echo } from '../../api-params'
import { readJsonBody } from '../json-body'
import type { AppState } from '../middleware'
import { listParams } from './list-params'
import type { BatchList } from '../../contract/batches'

export function batchesRouter(deps: { settings: Settings; batches: BatchService; registry: () => ModelRegistry; webhooks: WebhookOutbox }): Router<AppState> {
  const { settings, batches } = deps
  const router = new Router<AppState>()

  router.post('/v1/batches', async (ctx) => {
    const body = await readJsonBody(ctx, settings.maxJsonBodyBytes)
    // metadata.webhook_url (and webhook_events): checked before anything is stored.
    deps.webhooks.checkMetadata(body.metadata)
    ctx.body = batches.create(body, { model: runOn(body.model, deps.registry()) })
  })

  router.get('/v1/batches', (ctx) => {
    const { limit, after } = listParams(ctx.query, { defaultLimit: 20, maxLimit: 100, orders: false })
    const page = batches.list(limit, after)
    const list: BatchList = {
      object: 'list',
      data: page.data,
      first_id: page.data[0]?.id ?? null,
      last_id: page.data.at(-1)?.id ?? null,
      has_more: page.hasMore,
    }
    ctx.body = list
  })

  router.get('/v1/batches/:id', (ctx) => {
    ctx.body = batches.get(ctx.params.id)
  })

  // No body is read: SDK v4 sends `content-type: application/json` with an empty body here.
  router.post('/v1/batches/:id/cancel', (ctx) => {
    ctx.body = batches.cancel(ctx.params.id)
  })

  return router
}

/**
 * This service's one addition to `POST /v1/batches`: `model` (an id or alias of models.yaml) runs every line on
 * that model whatever the lines name (`vbs submit --model`), as a comparison's arms do. Absent: the lines decide.
 */
function runOn(model: unknown, registry: ModelRegistry): string | undefined {
  if (model === undefined || model === null) return undefined
  if (typeof model !== 'string' || model === '') throw badRequest(`Invalid 'model': expected a model id or alias from models.yaml, got ${describeType(model)}.`, 'invalid_type', 'model')
  const entry = registry.resolve(model)
  if (!entry) throw new ApiError(404, `The model ${echo(model)} does not exist: it is not in models.yaml.`, { code: 'model_not_found', param: 'model' })
  return entry.id
}
