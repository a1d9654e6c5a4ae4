import type { Database, Statement } from 'better-sqlite3'
import { BULK_CHECKPOINT_PAGES, CONNECTION_PRAGMAS, DURABILITY_PRAGMA } from './database'
import { IndexWriter, type IndexWriterPlan } from './index-writer'

/** Where one request line sits in its batch's input file. */
export interface RequestIndexRow {
  line: number
  custom_id: string
  offset: number
  length: number
}

/**
 * A request's state: `pending` until its result is committed (one in flight stays pending, so a crash sends it
 * again), then succeeded or failed, or cancelled / expired when its batch ended before it ran.
 */
export type RequestState = 'pending' | 'succeeded' | 'failed' | 'cancelled' | 'expired'

/** Rows per INSERT statement when writing an index: one statement per row is the bottleneck at 200,000 rows. */
const ROWS_PER_INSERT = 100
const INSERT = 'INSERT INTO requests (batch_seq, line, custom_id, offset, length) VALUES '
const INSERT_ONE = `${INSERT}(?, ?, ?, ?, ?)`
const INSERT_BLOCK = `${INSERT}${Array(ROWS_PER_INSERT).fill('(?, ?, ?, ?, ?)').join(', ')}`

/** The per-request index of each batch. Methods take the batch's id; rows are keyed by its integer seq. */
export class RequestsRepo {
  private readonly insertOne: Statement<(string | number)[]>
  private readonly insertBlock: Statement<(string | number)[]>
  private readonly deleteStmt: Statement<[number]>
  private readonly countStmt: Statement<[number], { state: RequestState; n: number }>
  private readonly pageStmt: Statement<[number, number, number], RequestIndexRow & { state: RequestState }>
  private readonly pendingStmt: Statement<[number, number, number], RequestIndexRow & { attempts: number }>

  /** `seqOf`: the batches table's number for a batch id (BatchesRepo.seqOf). */
  constructor(
    private readonly db: Database,
    private readonly batches: { seqOf(id: string): number },
  ) {
    this.insertOne = db.prepare(INSERT_ONE)
    this.insertBlock = db.prepare(INSERT_BLOCK)
    this.deleteStmt = db.prepare('DELETE FROM requests WHERE batch_seq = ?')
    this.countStmt = db.prepare('SELECT state, COUNT(*) AS n FROM requests WHERE batch_seq = ? GROUP BY state')
    this.pendingStmt = db.prepare(
      "SELECT line, custom_id, offset, length, attempts FROM requests WHERE batch_seq = ? AND line > ? AND state = 'pending' ORDER BY line LIMIT ?",
    )
    this.pageStmt = db.prepare(
      'SELECT line, custom_id, offset, length, state FROM requests WHERE batch_seq = ? AND line > ? ORDER BY line LIMIT ?',
    )
  }

  /** The next requests of a batch still to run, in input order, after `afterLine`. */
  pending(seq: number, afterLine: number, limit: number): (RequestIndexRow & { attempts: number })[] {
    return this.pendingStmt.all(seq, afterLine, limit)
  }

  /** Inserts one slice of a batch's index in a single transaction. */
  insertMany(batchId: string, rows: readonly RequestIndexRow[]): void {
    const seq = this.seqOf(batchId)
    this.db.transaction(() => {
      let i = 0
      const params: (string | number)[] = []
      for (; i + ROWS_PER_INSERT <= rows.length; i += ROWS_PER_INSERT) {
        params.length = 0
        for (let j = i; j < i + ROWS_PER_INSERT; j++) {
          const r = rows[j]
          params.push(seq, r.line, r.custom_id, r.offset, r.length)
        }
        this.insertBlock.run(...params)
      }
      for (; i < rows.length; i++) {
        const r = rows[i]
        this.insertOne.run(seq, r.line, r.custom_id, r.offset, r.length)
      }
    })()
  }

  /**
   * A writer of a batch's index on a thread of its own (see IndexWriter), for the large files: its rows are
   * written with the same statements as insertMany's, through a connection set up as this one (checkpoints
   * spaced out as Store.bulkWrite spaces them for the main connection).
   */
  bulkWriter(batchId: string): IndexWriter {
    return new IndexWriter(this.writerPlan(), this.seqOf(batchId))
  }

  /** Starts a writer thread and ends it: rejects with the reason where threads cannot write (see BatchService). */
  async probeBulkWriter(): Promise<void> {
    const writer = new IndexWriter(this.writerPlan(), 0)
    try {
      await writer.started()
    } finally {
      await writer.close()
    }
  }

  private writerPlan(): IndexWriterPlan {
    return {
      file: this.db.name,
      pragmas: [...CONNECTION_PRAGMAS, DURABILITY_PRAGMA, `wal_autocheckpoint = ${BULK_CHECKPOINT_PAGES}`],
      insertOne: INSERT_ONE,
      insertBlock: INSERT_BLOCK,
      rowsPerInsert: ROWS_PER_INSERT,
    }
  }

  deleteForBatch(batchId: string): void {
    this.deleteStmt.run(this.seqOf(batchId))
  }

  countByState(batchId: string): Partial<Record<RequestState, number>> {
    const out: Partial<Record<RequestState, number>> = {}
    for (const r of this.countStmt.all(this.seqOf(batchId))) out[r.state] = r.n
    return out
  }

  /** The index of a batch in line order, read a page at a time. */
  *iterate(batchId: string, pageSize = 5000): Generator<RequestIndexRow & { state: RequestState }> {
    const seq = this.seqOf(batchId)
    let after = 0
    for (;;) {
      const rows = this.pageStmt.all(seq, after, pageSize)
      if (rows.length === 0) return
      yield* rows
      after = rows[rows.length - 1].line
    }
  }

  private seqOf(batchId: string): number {
    return this.batches.seqOf(batchId)
  }
}
