import { Readable } from 'node:stream'
import Router from '@koa/router'
import { badRequest } from '../../api-error'
import { echo } from '../../api-params'
import type { ComparisonService } from '../../compare/comparison-service'
import { exportLines, exportMedia } from '../../compare/exports'
import { EXPORT_FORMATS, type ComparisonList, type ExportFormat } from '../../contract/comparisons'
import { readJsonBody } from '../json-body'
import type { AppState } from '../middleware'
import { listParams, offsetParam, singleParam } from './list-params'

/**
 * /api/comparisons: make one (a file on several models, or batches that exist), list and read them with their
 * figures, page their rows aligned by custom_id, vote on a row, and export the rows and votes.
 */
export function comparisonsRouter(deps: { comparisons: ComparisonService; maxJsonBodyBytes: number }): Router<AppState> {
  const { comparisons } = deps
  const router = new Router<AppState>()

  router.post('/api/comparisons', async (ctx) => {
    const body = await readJsonBody(ctx, deps.maxJsonBodyBytes)
    ctx.status = 201
    ctx.body = comparisons.create(body)
  })

  router.get('/api/comparisons', (ctx) => {
    const { limit, after } = listParams(ctx.query, { defaultLimit: 20, maxLimit: 100, orders: false })
    const page = comparisons.list(limit, after)
    const list: ComparisonList = { object: 'list', data: page.data, has_more: page.hasMore }
    ctx.body = list
  })

  router.get('/api/comparisons/:id', (ctx) => {
    ctx.body = comparisons.get(ctx.params.id)
  })

  router.get('/api/comparisons/:id/rows', async (ctx) => {
    const { limit } = listParams(ctx.query, { defaultLimit: 50, maxLimit: 200, orders: false })
    const differences = singleParam(ctx.query, 'differences')
    if (differences !== undefined && differences !== 'true' && differences !== 'false') {
      throw badRequest(`Invalid 'differences': ${echo(differences)}. Expected true or false.`, 'invalid_value', 'differences')
    }
    ctx.body = await comparisons.rows(ctx.params.id, { q: singleParam(ctx.query, 'q'), differences: differences === 'true', offset: offsetParam(ctx.query, 'offset'), limit })
  })

  // A custom_id may hold a slash: the SDKs and the window send it percent-encoded.
  router.put('/api/comparisons/:id/votes/*customId', async (ctx) => {
    const body = await readJsonBody(ctx, deps.maxJsonBodyBytes)
    ctx.body = comparisons.vote(ctx.params.id, ctx.params.customId, body)
  })

  router.get('/api/comparisons/:id/export', (ctx) => {
    const format = singleParam(ctx.query, 'format') ?? 'csv'
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
      throw badRequest(`Invalid 'format': ${echo(format)}. Expected one of ${EXPORT_FORMATS.join(', ')}.`, 'invalid_value', 'format')
    }
    const id = ctx.params.id
    const models = comparisons.get(id).models // 404 before anything is sent
    const media = exportMedia(format as ExportFormat, id)
    ctx.type = media.type
    ctx.attachment(media.filename)
    ctx.body = Readable.from(
      (async function* () {
        yield* exportLines(format as ExportFormat, models, null)
        for await (const row of comparisons.allRows(id)) yield* exportLines(format as ExportFormat, models, row)
      })(),
    )
  })

  return router
}
