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

/** A page's columns: the request's narrow row, and of its result the small columns (never the body). */
const PAGE_COLUMNS = `r.line, r.custom_id, r.state, r.attempts, r.offset, r.length, r.preview, r.finish_reason, s.status_code,
  s.request_id, s.error_code, s.error_message, s.input_tokens, s.output_tokens, s.started_at, s.finished_at`
const JOIN = 'LEFT JOIN results s ON s.batch_seq = r.batch_seq AND s.line = r.line'
const STATE_SQL: Record<ResultState, string> = {
  succeeded: "r.state = 'succeeded'",
  failed: "r.state IN ('failed', 'cancelled', 'expired')",
  pending: "r.state = 'pending'",
}

/** A request's state as the viewer names it: the never-ran ones (cancelled, expired) are failures, as in the error file. */
export function resultStateOf(requestState: string): ResultState {
  if (requestState === 'succeeded') return 'succeeded'
  if (requestState === 'pending') return 'pending'
  return 'failed'
}

/** The search index's hits among one batch's rows (its rowid range, see results-repo's searchKey). */
const HITS = 'FROM result_search WHERE result_search MATCH @match AND rowid BETWEEN @lo AND @hi'

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
    if (f.finishReason !== undefined) where.push('r.finish_reason = @finishReason')
    const params = { seq, finishReason: f.finishReason ?? null, match, lo: seq * SEARCH_KEY_LINES, hi: (seq + 1) * SEARCH_KEY_LINES - 1, limit: f.limit, offset: f.offset }
    // Filters and counts read only the narrow requests rows (and the index's hits, one batch's rowid range);
    // the wide result rows are read for the page's lines alone.
    const filtered = where.length > 1
    let lines: number[]
    let total: number
    if (!filtered) {
      // Words alone: the index's hits are the page, in rowid (= line) order. Nothing: the batch's requests.
      const from = match === null ? 'FROM requests r WHERE r.batch_seq = @seq' : HITS
      const order = match === null ? 'r.line' : 'rowid'
      const line = match === null ? 'r.line' : 'rowid - @lo'
      lines = this.statements.get<object, number>(`SELECT ${line} ${from} ORDER BY ${order} LIMIT @limit OFFSET @offset`).pluck().all(params)
      total = this.statements.get<object, number>(`SELECT COUNT(*) ${from}`).pluck().get(params) ?? 0
    } else {
      // Filtered: the matching lines in one scan of the narrow requests rows; with words, intersected with the
      // index's hits (both sorted by line) here rather than by a lookup per hit.
      let matching = this.statements.get<object, number>(`SELECT r.line FROM requests r WHERE ${where.join(' AND ')} ORDER BY r.line`).pluck().all(params)
      if (match !== null) matching = intersectSorted(matching, this.statements.get<object, number>(`SELECT rowid - @lo ${HITS} ORDER BY rowid`).pluck().all(params))
      total = matching.length
      lines = matching.slice(f.offset, f.offset + f.limit)
    }
    if (lines.length === 0) return { rows: [], total }
    const rows = this.statements
      .get<[number, string], ResultRow>(
        `SELECT ${PAGE_COLUMNS}, NULL AS body FROM requests r ${JOIN} WHERE r.batch_seq = ? AND r.line IN (SELECT value FROM json_each(?)) ORDER BY r.line`,
      )
      .all(seq, JSON.stringify(lines))
    return { rows, total }
  }

  /** The custom_ids of a batch's requests whose prompt or answer match the words `q` (see ftsQuery). */
  matchingCustomIds(seq: number, q: string): string[] {
    const match = ftsQuery(q)
    if (match === '') return []
    return this.statements
      .get<object, string>(`SELECT r.custom_id FROM (SELECT rowid - @lo AS line ${HITS}) h
        JOIN requests r ON r.batch_seq = @seq AND r.line = h.line`)
      .pluck()
      .all({ seq, match, lo: seq * SEARCH_KEY_LINES, hi: (seq + 1) * SEARCH_KEY_LINES - 1 })
  }

  /** Why generation stopped, over one batch's requests that have an answer: each reason counted, most frequent first. */
  finishReasons(seq: number): { finish_reason: string; count: number }[] {
    return this.statements
      .get<[number], { finish_reason: string; count: number }>(
        `SELECT finish_reason, COUNT(*) AS count FROM requests WHERE batch_seq = ? AND finish_reason IS NOT NULL
         GROUP BY finish_reason ORDER BY count DESC, finish_reason`,
      )
      .all(seq)
  }

  /** One request of a batch by its custom_id, or undefined. */
  byCustomId(seq: number, customId: string): ResultRow | undefined {
    return this.statements.get<[number, string], ResultRow>(`SELECT ${PAGE_COLUMNS}, s.body FROM requests r ${JOIN} WHERE r.batch_seq = ? AND r.custom_id = ?`).get(seq, customId)
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

/** The numbers in both ascending lists. */
function intersectSorted(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = []
  for (let i = 0, j = 0; i < a.length && j < b.length; ) {
    if (a[i] === b[j]) {
      out.push(a[i])
      i += 1
      j += 1
    } else if (a[i] < b[j]) i += 1
    else j += 1
  }
  return out
}
