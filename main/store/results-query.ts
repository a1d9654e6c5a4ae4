import type { Database } from 'better-sqlite3'
import type { ResultState } from '../contract/results'
import { SEARCH_KEY_LINES } from './results-repo'
import { StatementCache } from './statements'

/** One request of a batch with what is known of its result: a row of the results viewer. */
export interface ResultRow {
  line: number
  custom_id: string
  /** The request's own state: pending, succeeded, failed, cancelled or expired (never ran). */
  state: string
  attempts: number
  offset: number
  length: number
  status_code: number | null
  request_id: string | null
  body: string | null
  error_code: string | null
  error_message: string | null
  input_tokens: number | null
  output_tokens: number | null
  started_at: number | null
  finished_at: number | null
  preview: string | null
  finish_reason: string | null
}

export interface ResultFilter {
  /** Free text: every word must appear in the prompt or the answer (a word in "quotes" stays a phrase). */
  q?: string
  state?: ResultState
  finishReason?: string
  offset: number
  limit: number
}

const COLUMNS = `r.line, r.custom_id, r.state, r.attempts, r.offset, r.length, s.status_code, s.request_id, s.body, s.error_code,
  s.error_message, s.input_tokens, s.output_tokens, s.started_at, s.finished_at, s.preview, s.finish_reason`
const JOIN = 'LEFT JOIN results s ON s.batch_seq = r.batch_seq AND s.line = r.line'
const STATE_SQL: Record<ResultState, string> = {
  succeeded: "r.state = 'succeeded'",
  failed: "r.state IN ('failed', 'cancelled', 'expired')",
  pending: "r.state = 'pending'",
}

/**
 * The results viewer's reads: a page of one batch's requests with their results, filtered by state, finish
 * reason and full text (FTS5 over prompt and answer, kept by ResultsRepo.commit), and one request in full.
 */
export class ResultsQuery {
  private readonly statements: StatementCache

  constructor(db: Database) {
    this.statements = new StatementCache(db)
  }

  page(seq: number, f: ResultFilter): { rows: ResultRow[]; total: number } {
    const match = f.q === undefined ? null : ftsQuery(f.q)
    if (match === '') return { rows: [], total: 0 } // words were asked for, none could be searched
    const where = ['r.batch_seq = @seq']
    if (f.state) where.push(STATE_SQL[f.state])
    if (f.finishReason !== undefined) where.push('s.finish_reason = @finishReason')
    const params = { seq, finishReason: f.finishReason ?? null, match, lo: seq * SEARCH_KEY_LINES, hi: (seq + 1) * SEARCH_KEY_LINES - 1, limit: f.limit, offset: f.offset }
    // The index answers a rowid range of one batch; its hits are joined back to the batch's requests by line.
    const from = match === null
      ? `FROM requests r ${JOIN}`
      : `FROM (SELECT rowid - @lo AS line FROM result_search WHERE result_search MATCH @match AND rowid BETWEEN @lo AND @hi) h
         JOIN requests r ON r.batch_seq = @seq AND r.line = h.line ${JOIN}`
    const clause = `${from} WHERE ${where.join(' AND ')}`
    const rows = this.statements.get<object, ResultRow>(`SELECT ${COLUMNS} ${clause} ORDER BY r.line LIMIT @limit OFFSET @offset`).all(params)
    const total = this.statements.get<object, { n: number }>(`SELECT COUNT(*) AS n ${clause}`).get(params)?.n ?? 0
    return { rows, total }
  }

  /** One request of a batch by its custom_id, or undefined. */
  byCustomId(seq: number, customId: string): ResultRow | undefined {
    return this.statements.get<[number, string], ResultRow>(`SELECT ${COLUMNS} FROM requests r ${JOIN} WHERE r.batch_seq = ? AND r.custom_id = ?`).get(seq, customId)
  }
}

/**
 * A person's search as an FTS5 query: each word (letters and digits) quoted, so that no character of the
 * input is FTS syntax; "a phrase" stays a phrase; the last word also matches as a prefix (results appear as one
 * types). All terms must match. '' when there is nothing to search for.
 */
export function ftsQuery(q: string): string {
  const terms: string[] = []
  const re = /"([^"]*)"|([\p{L}\p{N}_]+)/gu
  for (let m = re.exec(q); m !== null; m = re.exec(q)) {
    const words = (m[1] ?? m[2]).match(/[\p{L}\p{N}_]+/gu)
    if (words) terms.push(`"${words.join(' ')}"`)
  }
  if (terms.length === 0) return ''
  const last = terms[terms.length - 1]
  if (!last.includes(' ') && last.length >= 4 && !/"$/.test(q.trim())) terms[terms.length - 1] = `${last}*`
  return terms.join(' ')
}
