/**
 * A/B comparisons (`/api/comparisons`): make one (a file on several models, or batches that exist), read it
 * with its figures, page its aligned rows, vote on a row, and download an export.
 */
import type { Comparison, ComparisonList, ComparisonRowPage, ExportFormat, NewComparison, NewVote, Vote } from '../types'
import { downloadPath } from './download'
import { call } from './transport'

const enc = encodeURIComponent

/** The service's largest page of comparison rows. */
export const MAX_ROWS_LIMIT = 200

export interface RowQuery {
  q: string
  differences: boolean
  offset: number
  limit: number
}

export const createComparison = (body: NewComparison): Promise<Comparison> => call('POST', '/api/comparisons', body)
export const listComparisons = (): Promise<ComparisonList> => call('GET', '/api/comparisons?limit=100')
export const getComparison = (id: string): Promise<Comparison> => call('GET', `/api/comparisons/${enc(id)}`)

export function rowsSearch(query: RowQuery): string {
  const p = new URLSearchParams()
  if (query.q.trim() !== '') p.set('q', query.q.trim())
  if (query.differences) p.set('differences', 'true')
  p.set('offset', String(Math.max(0, query.offset)))
  p.set('limit', String(Math.min(MAX_ROWS_LIMIT, query.limit)))
  return p.toString()
}

export const listComparisonRows = (id: string, query: RowQuery): Promise<ComparisonRowPage> =>
  call('GET', `/api/comparisons/${enc(id)}/rows?${rowsSearch(query)}`)

/** Records the vote on a row (a model id, 'tie' or 'both_bad'), with an optional note; a custom_id may hold '/'. */
export function putVote(id: string, customId: string, winner: string, note?: string | null): Promise<Vote> {
  const body: NewVote = note === undefined ? { winner } : { winner, note }
  return call('PUT', `/api/comparisons/${enc(id)}/votes/${enc(customId)}`, body)
}

/** The name the service gives the export (its Content-Disposition), which the download keeps. */
export const exportFilename = (id: string, format: ExportFormat): string => (format === 'csv' ? `${id}.csv` : `${id}-${format}.jsonl`)

/** Downloads an export of the comparison's rows and votes. */
export const downloadExport = (id: string, format: ExportFormat): Promise<void> =>
  downloadPath(`/api/comparisons/${enc(id)}/export?format=${format}`, exportFilename(id, format))
