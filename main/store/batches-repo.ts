import type { Database, Statement } from 'better-sqlite3'
import type { BatchErrorEntry, BatchStatus } from '../contract/batches'
import { ACTIVE_STATUSES } from '../contract/batches'

/** A batches row as stored; JSON columns are kept as text. */
export interface BatchRow {
  id: string
  endpoint: string
  input_file_id: string
  completion_window: string
  status: BatchStatus
  model: string | null
  errors: string | null
  output_file_id: string | null
  error_file_id: string | null
  created_at: number
  in_progress_at: number | null
  expires_at: number
  finalizing_at: number | null
  completed_at: number | null
  failed_at: number | null
  expired_at: number | null
  cancelling_at: number | null
  cancelled_at: number | null
  total: number
  completed: number
  failed: number
  input_tokens: number
  cached_tokens: number
  output_tokens: number
  reasoning_tokens: number
  metadata: string | null
  output_expires_after: number | null
  status_detail: string | null
  /** JSON of BatchProgress while the batch runs. */
  progress: string | null
  /** Starts of this batch's validation not ended by a verdict or a clean stop; read only while it validates (see BatchService.recover). */
  validation_attempts: number
}

export type BatchPatch = Partial<Omit<BatchRow, 'id' | 'errors'>> & { errors?: BatchErrorEntry[] | null }

const COLUMNS: (keyof BatchRow)[] = [
  'id', 'endpoint', 'input_file_id', 'completion_window', 'status', 'model', 'errors', 'output_file_id',
  'error_file_id', 'created_at', 'in_progress_at', 'expires_at', 'finalizing_at', 'completed_at', 'failed_at',
  'expired_at', 'cancelling_at', 'cancelled_at', 'total', 'completed', 'failed', 'input_tokens', 'cached_tokens',
  'output_tokens', 'reasoning_tokens', 'metadata', 'output_expires_after', 'status_detail', 'progress',
  'validation_attempts',
]
const SELECT = `SELECT ${COLUMNS.join(', ')} FROM batches`
const ACTIVE_LIST = ACTIVE_STATUSES.map((s) => `'${s}'`).join(', ')

export class BatchesRepo {
  private readonly insertStmt: Statement
  private readonly getStmt: Statement<[string], BatchRow>
  private readonly seqStmt: Statement<[string], { seq: number }>
  private readonly activeCountStmt: Statement<[], { n: number }>
  private readonly activeForFileStmt: Statement<[string], { id: string; status: BatchStatus }>
  private readonly queuedStmt: Statement<[], { n: number | null }>
  private readonly byStatusStmt: Statement<[string], BatchRow>
  private readonly attemptsStmt: Statement<[number, string]>
  private readonly byStatusCountStmt: Statement<[], { status: BatchStatus; n: number }>
  private readonly updateStmts = new Map<string, Statement>()

  constructor(private readonly db: Database) {
    this.insertStmt = db.prepare(
      `INSERT INTO batches (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')})`,
    )
    this.getStmt = db.prepare(`${SELECT} WHERE id = ?`)
    this.seqStmt = db.prepare('SELECT seq FROM batches WHERE id = ?')
    this.activeCountStmt = db.prepare(`SELECT COUNT(*) AS n FROM batches WHERE status IN (${ACTIVE_LIST})`)
    this.activeForFileStmt = db.prepare(
      `SELECT id, status FROM batches WHERE status IN (${ACTIVE_LIST}) AND input_file_id = ? ORDER BY seq LIMIT 1`,
    )
    // Requests not yet finished in active batches; a batch still validating counts its file's lines.
    this.queuedStmt = db.prepare(`
      SELECT SUM(CASE WHEN b.status = 'validating' THEN COALESCE(f.line_count, 0)
                      ELSE b.total - b.completed - b.failed END) AS n
      FROM batches b LEFT JOIN files f ON f.id = b.input_file_id
      WHERE b.status IN (${ACTIVE_LIST})`)
    this.byStatusStmt = db.prepare(`${SELECT} WHERE status = ? ORDER BY seq`)
    this.attemptsStmt = db.prepare('UPDATE batches SET validation_attempts = MAX(0, validation_attempts + ?) WHERE id = ?')
    this.byStatusCountStmt = db.prepare('SELECT status, COUNT(*) AS n FROM batches GROUP BY status')
  }

  insert(row: BatchRow): void {
    this.insertStmt.run(row)
  }

  get(id: string): BatchRow | undefined {
    return this.getStmt.get(id)
  }

  /** Newest first. An unknown `after` cursor gives undefined. */
  list(limit: number, after?: string): { rows: BatchRow[]; hasMore: boolean } | undefined {
    let rows: BatchRow[]
    if (after) {
      const cursor = this.seqStmt.get(after)
      if (!cursor) return undefined
      rows = this.db.prepare<[number, number], BatchRow>(`${SELECT} WHERE seq < ? ORDER BY seq DESC LIMIT ?`)
        .all(cursor.seq, limit + 1)
    } else {
      rows = this.db.prepare<[number], BatchRow>(`${SELECT} ORDER BY seq DESC LIMIT ?`).all(limit + 1)
    }
    return { rows: rows.slice(0, limit), hasMore: rows.length > limit }
  }

  byStatus(status: BatchStatus): BatchRow[] {
    return this.byStatusStmt.all(status)
  }

  /** Writes the given columns; `errors` is stored as JSON. */
  update(id: string, patch: BatchPatch): void {
    const keys = Object.keys(patch).filter((k) => k !== 'id').sort()
    if (keys.length === 0) return
    const sig = keys.join(',')
    let stmt = this.updateStmts.get(sig)
    if (!stmt) {
      stmt = this.db.prepare(`UPDATE batches SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE id = @id`)
      this.updateStmts.set(sig, stmt)
    }
    const values: Record<string, unknown> = { id }
    for (const k of keys) {
      const v = (patch as Record<string, unknown>)[k]
      values[k] = k === 'errors' ? (v == null ? null : JSON.stringify(v)) : v
    }
    stmt.run(values)
  }

  /** Counts a validation as started (+1) or as ended without a verdict by a clean stop (-1); commits at once. */
  countValidationAttempt(id: string, delta: 1 | -1): void {
    this.attemptsStmt.run(delta, id)
  }

  countActive(): number {
    return this.activeCountStmt.get()?.n ?? 0
  }

  /** How many batches there are of each status (statuses with none are left out). */
  countByStatus(): Map<BatchStatus, number> {
    return new Map(this.byStatusCountStmt.all().map((r) => [r.status, r.n]))
  }

  queuedRequests(): number {
    return this.queuedStmt.get()?.n ?? 0
  }

  /** An active batch whose input is this file, if any. */
  activeUsingFile(fileId: string): { id: string; status: BatchStatus } | undefined {
    return this.activeForFileStmt.get(fileId)
  }
}
