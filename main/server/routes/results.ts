import Router from '@koa/router'
import { badRequest, notFound } from '../../api-error'
import { echo } from '../../api-params'
import type { BatchService } from '../../batch/batch-service'
import { RESULT_STATES, type FinishReasonList, type ResultDetail, type ResultPage, type ResultState, type ResultSummary } from '../../contract/results'
import type { Store } from '../../store'
import type { FileService } from '../../files/file-service'
import { resultStateOf, type ResultRow } from '../../store/results-query'
import type { AppState } from '../middleware'
import { listParams, offsetParam, singleParam } from './list-params'

export interface ResultsDeps {
  store: Store
  files: FileService
  batches: BatchService
}

function summary(row: ResultRow): ResultSummary {
  const answered = row.finished_at !== null
  return {
    line: row.line,
    custom_id: row.custom_id,
    state: resultStateOf(row.state),
    status_code: row.status_code,
    latency_ms: answered && row.started_at !== null ? Math.max(0, row.finished_at! - row.started_at) : null,
    usage: answered ? { input_tokens: row.input_tokens ?? 0, output_tokens: row.output_tokens ?? 0 } : null,
    finish_reason: row.finish_reason,
    preview: row.preview ?? (row.state === 'cancelled' || row.state === 'expired' ? `never ran: the batch was ${row.state}` : null),
  }
}

const parseJson = (text: string | null): unknown => {
  if (text === null) return null
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

/**
 * GET /api/batches/{id}/results (a page of the batch's requests with their results, while it runs and after:
 * `q` full text over prompt and answer, `state`, `finish_reason`, `offset`, `limit`) and
 * GET /api/batches/{id}/results/{custom_id} (one request in full: as sent, the answer or error, usage, timings),
 * and GET /api/batches/{id}/finish-reasons (the finish reasons of its answers, counted: the filter's choices).
 */
export function resultsRouter(deps: ResultsDeps): Router<AppState> {
  const { store, batches } = deps
  const router = new Router<AppState>()

  router.get('/api/batches/:id/results', (ctx) => {
    const batch = batches.get(ctx.params.id) // 404 for an unknown batch
    const { limit } = listParams(ctx.query, { defaultLimit: 50, maxLimit: 500, orders: false })
    const offset = offsetParam(ctx.query, 'offset')
    const state = singleParam(ctx.query, 'state')
    if (state !== undefined && !RESULT_STATES.includes(state as ResultState)) {
      throw badRequest(`Invalid 'state': ${echo(state)}. Expected one of ${RESULT_STATES.join(', ')}.`, 'invalid_value', 'state')
    }
    const q = singleParam(ctx.query, 'q')
    const page = store.resultsQuery.page(store.batches.seqOf(batch.id), {
      q,
      state: state as ResultState | undefined,
      finishReason: singleParam(ctx.query, 'finish_reason'),
      offset,
      limit,
    })
    const body: ResultPage = { object: 'list', data: page.rows.map(summary), total: page.total, has_more: offset + page.rows.length < page.total }
    ctx.body = body
  })

  // Beside /results, not under it: any name there is a custom_id.
  router.get('/api/batches/:id/finish-reasons', (ctx) => {
    const batch = batches.get(ctx.params.id) // 404 for an unknown batch
    const body: FinishReasonList = { object: 'list', data: store.resultsQuery.finishReasons(store.batches.seqOf(batch.id)) }
    ctx.body = body
  })

  // A custom_id may hold a slash; the SDKs and the window send it percent-encoded.
  router.get('/api/batches/:id/results/*customId', async (ctx) => {
    const batch = batches.get(ctx.params.id)
    const customId = ctx.params.customId
    const row = store.resultsQuery.byCustomId(store.batches.seqOf(batch.id), customId)
    if (!row) throw notFound(`Batch ${batch.id} has no request with custom_id ${echo(customId)}.`, 'custom_id')
    const [sent] = (await deps.files.readRanges(batch.input_file_id, [row])) ?? []
    const detail: ResultDetail = {
      ...summary(row),
      attempts: row.attempts,
      request: sent ? parseJson(sent.toString('utf8')) : null,
      response: row.status_code !== null ? { status_code: row.status_code, request_id: row.request_id, body: parseJson(row.body) } : null,
      error: row.error_code !== null || row.error_message !== null ? { code: row.error_code, message: row.error_message ?? '' } : null,
      started_at: row.started_at,
      finished_at: row.finished_at,
    }
    ctx.body = detail
  })

  return router
}
