import type { Database, Statement } from 'better-sqlite3'
import type { BatchErrorEntry, BatchStatus } from '../contract/batches'
import { ACTIVE_STATUSES } from '../contract/batches'
import type { Hold } from '../contract/jobs'
import { BATCH_COLUMNS, type BatchRow } from './batch-row'
import { StatementCache } from './statements'

export type { BatchRow }

/** Columns to write; `errors` and `hold` are given as values and stored as JSON. */
export type BatchPatch = Partial<Omit<BatchRow, 'id' | 'errors' | 'hold'>> & { errors?: BatchErrorEntry[] | null; hold?: Hold | null }
const JSON_COLUMNS = new Set(['errors', 'hold'])

const SELECT = `SELECT ${BATCH_COLUMNS.join(', ')} FROM batches`
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
  private readonly pageStmt: Statement<[number], BatchRow>
  private readonly pageAfterStmt: Statement<[number, number], BatchRow>
  private readonly rateStmt: Statement<[string], { rate: number }>
  private readonly waitingStmt: Statement<[], BatchRow & { seq: number }>
  private readonly statements: StatementCache

  constructor(db: Database) {
    this.statements = new StatementCache(db)
    this.insertStmt = db.prepare(
      `INSERT INTO batches (${BATCH_COLUMNS.join(', ')}) VALUES (${BATCH_COLUMNS.map((c) => `@${c}`).join(', ')})`,
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
    this.pageStmt = db.prepare(`${SELECT} ORDER BY seq DESC LIMIT ?`)
    this.pageAfterStmt = db.prepare(`${SELECT} WHERE seq < ? ORDER BY seq DESC LIMIT ?`)
    this.waitingStmt = db.prepare(`SELECT seq, ${BATCH_COLUMNS.join(', ')} FROM batches WHERE status IN ('validating', 'in_progress') ORDER BY seq`)
    this.rateStmt = db.prepare(`
      SELECT (completed + failed) * 1000.0 / (last_finished_at - first_started_at) AS rate FROM batches
      WHERE model = ? AND status = 'completed' AND first_started_at IS NOT NULL AND last_finished_at > first_started_at
      ORDER BY seq DESC LIMIT 1`)
  }

  insert(row: BatchRow): void {
    this.insertStmt.run(row)
  }

  get(id: string): BatchRow | undefined {
    return this.getStmt.get(id)
  }

  /** The batch's internal number, which its requests, results and dead letters are keyed by. */
  seqOf(id: string): number {
    const row = this.seqStmt.get(id)
    if (!row) throw new Error(`batch ${id} does not exist`)
    return row.seq
  }

  /** Newest first. An unknown `after` cursor gives undefined. */
  list(limit: number, after?: string): { rows: BatchRow[]; hasMore: boolean } | undefined {
    let rows: BatchRow[]
    if (after) {
      const cursor = this.seqStmt.get(after)
      if (!cursor) return undefined
      rows = this.pageAfterStmt.all(cursor.seq, limit + 1)
    } else {
      rows = this.pageStmt.all(limit + 1)
    }
    return { rows: rows.slice(0, limit), hasMore: rows.length > limit }
  }

  /** Batches validating or queued to run (the running one too), oldest first, with their order of creation. */
  waiting(): (BatchRow & { seq: number })[] {
    return this.waitingStmt.all()
  }

  /** Requests per second of the model's last completed batch (over its wall time), or null when none ran. */
  recentRate(model: string): number | null {
    return this.rateStmt.get(model)?.rate ?? null
  }

  byStatus(status: BatchStatus): BatchRow[] {
    return this.byStatusStmt.all(status)
  }

  /** Writes the given columns. */
  update(id: string, patch: BatchPatch): void {
    const keys = Object.keys(patch).filter((k) => k !== 'id').sort()
    if (keys.length === 0) return
    const stmt = this.statements.get<Record<string, unknown>>(`UPDATE batches SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE id = @id`)
    const values: Record<string, unknown> = { id }
    for (const k of keys) {
      const v = (patch as Record<string, unknown>)[k]
      values[k] = JSON_COLUMNS.has(k) ? (v == null ? null : JSON.stringify(v)) : v
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
