import type { Database, Statement } from 'better-sqlite3'

/** Where one request line sits in its batch's input file. */
export interface RequestIndexRow {
  line: number
  custom_id: string
  offset: number
  length: number
}

export type RequestState = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'expired'

export class RequestsRepo {
  private readonly insertStmt: Statement<[string, number, string, number, number]>
  private readonly deleteStmt: Statement<[string]>
  private readonly countStmt: Statement<[string], { state: RequestState; n: number }>

  constructor(private readonly db: Database) {
    this.insertStmt = db.prepare(
      'INSERT INTO requests (batch_id, line, custom_id, offset, length) VALUES (?, ?, ?, ?, ?)',
    )
    this.deleteStmt = db.prepare('DELETE FROM requests WHERE batch_id = ?')
    this.countStmt = db.prepare('SELECT state, COUNT(*) AS n FROM requests WHERE batch_id = ? GROUP BY state')
  }

  /** Inserts one slice of a batch's index in a single transaction. */
  insertMany(batchId: string, rows: readonly RequestIndexRow[]): void {
    this.db.transaction(() => {
      for (const r of rows) this.insertStmt.run(batchId, r.line, r.custom_id, r.offset, r.length)
    })()
  }

  deleteForBatch(batchId: string): void {
    this.deleteStmt.run(batchId)
  }

  countByState(batchId: string): Partial<Record<RequestState, number>> {
    const out: Partial<Record<RequestState, number>> = {}
    for (const r of this.countStmt.all(batchId)) out[r.state] = r.n
    return out
  }

  /** The index of a batch in line order, read a page at a time. */
  *iterate(batchId: string, pageSize = 5000): Generator<RequestIndexRow & { state: RequestState }> {
    const page = this.db.prepare<[string, number, number], RequestIndexRow & { state: RequestState }>(
      'SELECT line, custom_id, offset, length, state FROM requests WHERE batch_id = ? AND line > ? ORDER BY line LIMIT ?',
    )
    let after = 0
    for (;;) {
      const rows = page.all(batchId, after, pageSize)
      if (rows.length === 0) return
      yield* rows
      after = rows[rows.length - 1].line
    }
  }
}
