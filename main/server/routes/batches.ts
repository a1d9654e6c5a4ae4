import Router from '@koa/router'
import type { BatchService } from '../../batch/batch-service'
import type { Settings } from '../../config/settings'
import { readJsonBody } from '../json-body'
import type { AppState } from '../middleware'
import { listParams } from './list-params'
import type { BatchList } from '../../contract/batches'

export function batchesRouter(deps: { settings: Settings; batches: BatchService }): Router<AppState> {
  const { settings, batches } = deps
  const router = new Router<AppState>()

  router.post('/v1/batches', async (ctx) => {
    const body = await readJsonBody(ctx, settings.maxJsonBodyBytes)
    ctx.body = batches.create(body)
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
