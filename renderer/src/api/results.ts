/** The results of a batch (`GET /api/batches/{id}/results[/{custom_id}]`): a page of rows, and one request in full. */
import type { FinishReasonCount, FinishReasonList, ResultDetail, ResultPage, ResultState } from '../types'
import { call } from './transport'

const enc = encodeURIComponent

/** The service's largest page of results. */
export const MAX_RESULTS_LIMIT = 500

export interface ResultQuery {
  /** Full text over the prompt and the answer ('' for none). */
  q: string
  state: ResultState | null
  finishReason: string | null
  offset: number
  limit: number
}

/** The query string of a page request, without empty filters. */
export function resultsSearch(query: ResultQuery): string {
  const p = new URLSearchParams()
  if (query.q.trim() !== '') p.set('q', query.q.trim())
  if (query.state) p.set('state', query.state)
  if (query.finishReason) p.set('finish_reason', query.finishReason)
  p.set('offset', String(Math.max(0, query.offset)))
  p.set('limit', String(Math.min(MAX_RESULTS_LIMIT, query.limit)))
  return p.toString()
}

export const listResults = (batchId: string, query: ResultQuery): Promise<ResultPage> =>
  call('GET', `/api/batches/${enc(batchId)}/results?${resultsSearch(query)}`)

/** Why generation stopped, over the batch's answers: each reason counted, most frequent first. */
export const listFinishReasons = async (batchId: string): Promise<FinishReasonCount[]> =>
  (await call<FinishReasonList>('GET', `/api/batches/${enc(batchId)}/finish-reasons`)).data

/** One request in full; a custom_id may hold '/', sent percent-encoded. */
export const getResult = (batchId: string, customId: string): Promise<ResultDetail> =>
  call('GET', `/api/batches/${enc(batchId)}/results/${enc(customId)}`)
