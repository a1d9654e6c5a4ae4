import type { Database, Statement } from 'better-sqlite3'
import { errorMessageOf } from '../contract/errors'
import { PREVIEW_CHARS } from '../contract/results'
import { answerHashes } from './answer-hash'

export interface Usage {
  input: number
  cached: number
  output: number
  reasoning: number
}

/** The end of one request: what is committed for it. */
export interface RequestResult {
  line: number
  customId: string
  state: 'succeeded' | 'failed'
  attempts: number
  /** The engine's HTTP status, or null when it never answered. */
  statusCode: number | null
  requestId: string
  /** The engine's response body as it came (JSON text), or null. */
  body: string | null
  /** Set when there is no response to show: why the request failed. */
  errorCode: string | null
  errorMessage: string | null
  usage: Usage
  startedAt: number
  finishedAt: number
  /** What the results viewer shows and searches: the request's text, the answer's (or the error's), why it ended. */
  promptText: string
  answerText: string | null
  finishReason: string | null
}

/** A result's key in the search index: one batch's rows are one rowid range (see migration 0005). */
export const SEARCH_KEY_LINES = 2 ** 24
export const searchKey = (seq: number, line: number): number => seq * SEARCH_KEY_LINES + line

/** A request row joined with its result, in input order, for the output and error files. */
export interface JoinedRow {
  line: number
  custom_id: string
  offset: number
  length: number
  state: string
  attempts: number
  status_code: number | null
  request_id: string | null
  body: string | null
  error_code: string | null
  error_message: string | null
}

export interface DeadLetter {
  line: number
  custom_id: string
  error_type: string
  message: string
  attempts: number
  created_at: number
}

/** Results, dead letters and the counters they move, written together so a crash never splits them. */
export class ResultsRepo {
  private readonly insertResult: Statement
  private readonly markRequest: Statement<[string, number, string | null, string | null, string | null, string | null, number, number, number, number]>
  private readonly insertDead: Statement
  private readonly bumpAttempts: Statement<[number, number, number]>
  private readonly bumpBatch: Statement
  private readonly joinedPage: Statement<[number, number, number], JoinedRow>
  private readonly deadPage: Statement<[number, number, number], DeadLetter>
  private readonly failedRequests: Statement<[number, number, number], { line: number; custom_id: string; offset: number; length: number }>
  private readonly deadNeverRan: Statement<[{ seq: number; code: string; message: string; now: number }]>
  private readonly markNeverRanStmt: Statement<[{ seq: number; state: string }]>
  private readonly unindex: Statement<[number]>
  private readonly index: Statement<[number, string, string]>

  constructor(private readonly db: Database) {
    this.insertResult = db.prepare(`INSERT OR REPLACE INTO results
      (batch_seq, line, status_code, request_id, body, error_code, error_message, input_tokens, output_tokens, started_at, finished_at)
      VALUES (@seq, @line, @statusCode, @requestId, @body, @errorCode, @errorMessage, @input, @output, @startedAt, @finishedAt)`)
    this.unindex = db.prepare('DELETE FROM result_search WHERE rowid = ?')
    this.index = db.prepare('INSERT INTO result_search (rowid, prompt, answer) VALUES (?, ?, ?)')
    this.markRequest = db.prepare(`UPDATE requests SET state = ?, attempts = ?, finish_reason = ?, preview = ?, answer_hash = ?, normalized_hash = ?,
      latency_ms = ?, output_tokens = ? WHERE batch_seq = ? AND line = ?`)
    this.insertDead = db.prepare(`INSERT OR REPLACE INTO dead_letters
      (batch_seq, line, custom_id, error_type, message, attempts, created_at)
      VALUES (@seq, @line, @customId, @errorType, @message, @attempts, @createdAt)`)
    this.bumpAttempts = db.prepare('UPDATE requests SET attempts = ? WHERE batch_seq = ? AND line = ?')
    this.bumpBatch = db.prepare(`UPDATE batches SET completed = completed + @completed, failed = failed + @failed,
      input_tokens = input_tokens + @input, cached_tokens = cached_tokens + @cached,
      output_tokens = output_tokens + @output, reasoning_tokens = reasoning_tokens + @reasoning,
      first_started_at = MIN(COALESCE(first_started_at, @firstStart), @firstStart), last_finished_at = MAX(COALESCE(last_finished_at, @lastEnd), @lastEnd)
      WHERE seq = @seq`)
    this.joinedPage = db.prepare(`SELECT r.line, r.custom_id, r.offset, r.length, r.state, r.attempts,
        x.status_code, x.request_id, x.body, x.error_code, x.error_message
      FROM requests r LEFT JOIN results x ON x.batch_seq = r.batch_seq AND x.line = r.line
      WHERE r.batch_seq = ? AND r.line > ? ORDER BY r.line LIMIT ?`)
    this.deadPage = db.prepare(`SELECT line, custom_id, error_type, message, attempts, created_at FROM dead_letters
      WHERE batch_seq = ? AND line > ? ORDER BY line LIMIT ?`)
    // Every request of an ended batch that did not succeed: failed, or never ran (cancelled, expired).
    this.failedRequests = db.prepare(`SELECT line, custom_id, offset, length FROM requests
      WHERE batch_seq = ? AND state <> 'succeeded' AND line > ? ORDER BY line LIMIT ?`)
    this.deadNeverRan = db.prepare(`INSERT OR REPLACE INTO dead_letters (batch_seq, line, custom_id, error_type, message, attempts, created_at)
      SELECT batch_seq, line, custom_id, @code, @message, attempts, @now FROM requests
      WHERE batch_seq = @seq AND state = 'pending'`)
    this.markNeverRanStmt = db.prepare(`UPDATE requests SET state = @state WHERE batch_seq = @seq AND state = 'pending'`)
  }

  /**
   * Commits finished requests in one transaction: their results, their request state, a dead letter for each
   * failure, and the batch's counters; plus the attempt counts of requests that will be tried again.
   */
  commit(seq: number, results: readonly RequestResult[], retried: readonly { line: number; attempts: number }[] = []): void {
    this.db.transaction(() => {
      const sums = { seq, completed: 0, failed: 0, input: 0, cached: 0, output: 0, reasoning: 0, firstStart: Infinity, lastEnd: 0 }
      for (const r of results) {
        const why = r.errorMessage ?? errorMessageOf(r.body)
        const shown = r.answerText ?? why
        this.insertResult.run({
          seq,
          line: r.line,
          statusCode: r.statusCode,
          requestId: r.requestId,
          body: r.body,
          errorCode: r.errorCode,
          errorMessage: r.errorMessage,
          input: r.usage.input,
          output: r.usage.output,
          startedAt: r.startedAt,
          finishedAt: r.finishedAt,
        })
        // A request committed again (after a crash, before its first commit was known) replaces its entry.
        const key = searchKey(seq, r.line)
        this.unindex.run(key)
        this.index.run(key, r.promptText, shown ?? '')
        const hashes = answerHashes(r.state === 'succeeded' ? r.answerText : null)
        this.markRequest.run(r.state, r.attempts, r.finishReason, shown === null ? null : previewOf(shown), hashes.exact, hashes.normalized, Math.max(0, r.finishedAt - r.startedAt), r.usage.output, seq, r.line)
        if (r.state === 'succeeded') sums.completed += 1
        else {
          sums.failed += 1
          this.insertDead.run({
            seq,
            line: r.line,
            customId: r.customId,
            errorType: r.errorCode ?? (r.statusCode !== null ? `http_${r.statusCode}` : 'error'),
            message: why ?? `the engine answered ${r.statusCode}`,
            attempts: r.attempts,
            createdAt: Math.floor(r.finishedAt / 1000),
          })
        }
        sums.input += r.usage.input
        sums.cached += r.usage.cached
        sums.output += r.usage.output
        sums.reasoning += r.usage.reasoning
        if (r.startedAt < sums.firstStart) sums.firstStart = r.startedAt
        if (r.finishedAt > sums.lastEnd) sums.lastEnd = r.finishedAt
      }
      for (const r of retried) this.bumpAttempts.run(r.attempts, seq, r.line)
      if (results.length > 0) this.bumpBatch.run(sums)
    })()
  }

  /**
   * Ends the requests of a batch that never ran (it was cancelled or expired first): their state says so, and
   * each gets a dead letter, so the failed count, the dead-letter list and retry-failed agree. Returns how many.
   */
  markNeverRan(seq: number, state: 'cancelled' | 'expired', code: string, message: string): number {
    this.deadNeverRan.run({ seq, code, message, now: Math.floor(Date.now() / 1000) })
    return this.markNeverRanStmt.run({ seq, state }).changes
  }

  /** Every request of a batch with its result, in input order, a page at a time. */
  *joined(seq: number, pageSize = 2000): Generator<JoinedRow> {
    let after = 0
    for (;;) {
      const rows = this.joinedPage.all(seq, after, pageSize)
      if (rows.length === 0) return
      yield* rows
      after = rows[rows.length - 1].line
    }
  }

  deadLetters(seq: number, limit: number, afterLine = 0): DeadLetter[] {
    return this.deadPage.all(seq, afterLine, limit)
  }

  /** Where the requests of an ended batch that did not succeed are in its input file, in input order. */
  *failed(seq: number, pageSize = 5000): Generator<{ line: number; custom_id: string; offset: number; length: number }> {
    let after = 0
    for (;;) {
      const rows = this.failedRequests.all(seq, after, pageSize)
      if (rows.length === 0) return
      yield* rows
      after = rows[rows.length - 1].line
    }
  }
}

/** The first PREVIEW_CHARS characters of a text, whitespace runs folded, never half a surrogate pair. */
export function previewOf(text: string): string {
  const folded = text.length > PREVIEW_CHARS * 4 ? text.slice(0, PREVIEW_CHARS * 4) : text
  const flat = folded.replace(/\s+/g, ' ').trim()
  if (flat.length <= PREVIEW_CHARS) return flat
  let end = PREVIEW_CHARS
  const c = flat.charCodeAt(end - 1)
  if (c >= 0xd800 && c <= 0xdbff) end -= 1
  return `${flat.slice(0, end)}…`
}
