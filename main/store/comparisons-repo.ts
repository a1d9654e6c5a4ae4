import type { Database, Statement } from 'better-sqlite3'
import { StatementCache } from './statements'

export interface ComparisonRow {
  seq: number
  id: string
  name: string | null
  input_file_id: string | null
  created_at: number
}

export interface ArmRow {
  position: number
  batch_id: string
  model: string
}

export interface VoteRow {
  custom_id: string
  winner: string
  note: string | null
  updated_at: number
}

/** A request of one arm, as a comparison row shows it (narrow columns; the body is read for a page's rows only). */
export interface ArmRequest {
  line: number
  custom_id: string
  state: string
  offset: number
  length: number
  answer_hash: string | null
  normalized_hash: string | null
  preview: string | null
  body: string | null
  error_message: string | null
  output_tokens: number | null
  started_at: number | null
  finished_at: number | null
}

/** Comparisons, the batches that make them, and the votes on their rows. */
export class ComparisonsRepo {
  private readonly statements: StatementCache
  private readonly insertStmt: Statement<[string, string | null, string | null, number]>
  private readonly insertArm: Statement<[number, number, string, string]>
  private readonly getStmt: Statement<[string], ComparisonRow>
  private readonly armsStmt: Statement<[number], ArmRow>
  private readonly putVote: Statement<[number, string, string, string | null, number]>
  private readonly voteCounts: Statement<[number], { winner: string; n: number }>

  constructor(private readonly db: Database) {
    this.statements = new StatementCache(db)
    this.insertStmt = db.prepare('INSERT INTO comparisons (id, name, input_file_id, created_at) VALUES (?, ?, ?, ?)')
    this.insertArm = db.prepare('INSERT INTO comparison_batches (comparison_seq, position, batch_id, model) VALUES (?, ?, ?, ?)')
    this.getStmt = db.prepare('SELECT seq, id, name, input_file_id, created_at FROM comparisons WHERE id = ?')
    this.armsStmt = db.prepare('SELECT position, batch_id, model FROM comparison_batches WHERE comparison_seq = ? ORDER BY position')
    this.putVote = db.prepare(`INSERT INTO comparison_votes (comparison_seq, custom_id, winner, note, updated_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (comparison_seq, custom_id) DO UPDATE SET winner = excluded.winner, note = excluded.note, updated_at = excluded.updated_at`)
    this.voteCounts = db.prepare('SELECT winner, COUNT(*) AS n FROM comparison_votes WHERE comparison_seq = ? GROUP BY winner')
  }

  /** Stores a comparison and its arms in one transaction. */
  insert(c: Omit<ComparisonRow, 'seq'>, arms: readonly Omit<ArmRow, 'position'>[]): void {
    this.db.transaction(() => {
      const seq = Number(this.insertStmt.run(c.id, c.name, c.input_file_id, c.created_at).lastInsertRowid)
      arms.forEach((a, i) => this.insertArm.run(seq, i, a.batch_id, a.model))
    })()
  }

  get(id: string): ComparisonRow | undefined {
    return this.getStmt.get(id)
  }

  arms(seq: number): ArmRow[] {
    return this.armsStmt.all(seq)
  }

  /** Newest first; an unknown `after` cursor gives undefined. */
  list(limit: number, after?: string): { rows: ComparisonRow[]; hasMore: boolean } | undefined {
    let rows: ComparisonRow[]
    if (after) {
      const cursor = this.get(after)
      if (!cursor) return undefined
      rows = this.statements.get<[number, number], ComparisonRow>('SELECT seq, id, name, input_file_id, created_at FROM comparisons WHERE seq < ? ORDER BY seq DESC LIMIT ?').all(cursor.seq, limit + 1)
    } else {
      rows = this.statements.get<[number], ComparisonRow>('SELECT seq, id, name, input_file_id, created_at FROM comparisons ORDER BY seq DESC LIMIT ?').all(limit + 1)
    }
    return { rows: rows.slice(0, limit), hasMore: rows.length > limit }
  }

  vote(seq: number, customId: string, winner: string, note: string | null, now: number): void {
    this.putVote.run(seq, customId, winner, note, now)
  }

  votesFor(seq: number, customIds: readonly string[]): Map<string, VoteRow> {
    const rows = this.statements
      .get<[number, string], VoteRow>('SELECT custom_id, winner, note, updated_at FROM comparison_votes WHERE comparison_seq = ? AND custom_id IN (SELECT value FROM json_each(?))')
      .all(seq, JSON.stringify(customIds))
    return new Map(rows.map((r) => [r.custom_id, r]))
  }

  voteCountsBy(seq: number): Map<string, number> {
    return new Map(this.voteCounts.all(seq).map((r) => [r.winner, r.n]))
  }

  /** The requests of a batch (by its seq) for these custom_ids, with their results' small columns and body. */
  requestsFor(batchSeq: number, customIds: readonly string[]): Map<string, ArmRequest> {
    const rows = this.statements
      .get<[string, number], ArmRequest>(`SELECT r.line, r.custom_id, r.state, r.offset, r.length, r.answer_hash, r.normalized_hash, r.preview,
          s.body, s.error_message, s.output_tokens, s.started_at, s.finished_at
        FROM json_each(?) j CROSS JOIN requests r ON r.batch_seq = ? AND r.custom_id = j.value
        LEFT JOIN results s ON s.batch_seq = r.batch_seq AND s.line = r.line`)
      .all(JSON.stringify(customIds), batchSeq)
    return new Map(rows.map((r) => [r.custom_id, r]))
  }

  /** A page of the custom_ids of a batch, in its input order, and how many it has. */
  customIds(batchSeq: number, offset: number, limit: number): { ids: string[]; total: number } {
    const ids = this.statements
      .get<[number, number, number], string>('SELECT custom_id FROM requests WHERE batch_seq = ? ORDER BY line LIMIT ? OFFSET ?')
      .pluck()
      .all(batchSeq, limit, offset)
    const total = this.statements.get<[number], number>('SELECT COUNT(*) FROM requests WHERE batch_seq = ?').pluck().get(batchSeq) ?? 0
    return { ids, total }
  }

  /**
   * The custom_ids of the first batch, in its input order, where another batch answered differently once
   * normalised (rows every batch answered).
   */
  differing(firstSeq: number, otherSeqs: readonly number[]): string[] {
    const joins = otherSeqs.map((_, i) => `JOIN requests o${i} ON o${i}.batch_seq = @s${i} AND o${i}.custom_id = a.custom_id AND o${i}.normalized_hash IS NOT NULL`).join(' ')
    const differs = otherSeqs.map((_, i) => `o${i}.normalized_hash <> a.normalized_hash`).join(' OR ')
    const params: Record<string, number> = { first: firstSeq }
    otherSeqs.forEach((seq, i) => (params[`s${i}`] = seq))
    return this.statements
      .get<Record<string, number>, string>(`SELECT a.custom_id FROM requests a ${joins} WHERE a.batch_seq = @first AND a.normalized_hash IS NOT NULL AND (${differs}) ORDER BY a.line`)
      .pluck()
      .all(params)
  }

  /** Of the custom_ids both batches answered: how many, and how many with the same answer, exactly and normalised. */
  agreement(seqA: number, seqB: number): { both: number; exact: number; normalized: number } {
    const row = this.statements
      .get<[number, number], { both: number; exact: number | null; normalized: number | null }>(`SELECT COUNT(*) AS both, SUM(a.answer_hash = b.answer_hash) AS exact,
          SUM(a.normalized_hash = b.normalized_hash) AS normalized
        FROM requests a JOIN requests b ON b.batch_seq = ? AND b.custom_id = a.custom_id
        WHERE a.batch_seq = ? AND a.answer_hash IS NOT NULL AND b.answer_hash IS NOT NULL`)
      .get(seqB, seqA)
    return { both: row?.both ?? 0, exact: row?.exact ?? 0, normalized: row?.normalized ?? 0 }
  }

  /** Whether two batches have a custom_id in common. */
  sharesCustomIds(seqA: number, seqB: number): boolean {
    return (
      this.statements
        .get<[number, number], number>('SELECT 1 FROM requests a JOIN requests b ON b.batch_seq = ? AND b.custom_id = a.custom_id WHERE a.batch_seq = ? LIMIT 1')
        .pluck()
        .get(seqB, seqA) !== undefined
    )
  }

  /** These custom_ids of a batch in its input order (those it does not have are left out). */
  inLineOrder(batchSeq: number, customIds: readonly string[]): string[] {
    return this.statements
      .get<[number, string], string>('SELECT custom_id FROM requests WHERE batch_seq = ? AND custom_id IN (SELECT value FROM json_each(?)) ORDER BY line')
      .pluck()
      .all(batchSeq, JSON.stringify(customIds))
  }

  /** Latency and output-token figures of one batch's succeeded requests, from the narrow requests rows. */
  armFigures(batchSeq: number): { n: number; meanLatency: number | null; p95Latency: number | null; outputTokens: number } {
    const agg = this.statements
      .get<[number], { n: number; mean: number | null; tokens: number | null }>(
        "SELECT COUNT(*) AS n, AVG(latency_ms) AS mean, SUM(output_tokens) AS tokens FROM requests WHERE batch_seq = ? AND state = 'succeeded'",
      )
      .get(batchSeq)
    const n = agg?.n ?? 0
    const p95 =
      n === 0
        ? null
        : (this.statements
            .get<[number, number], number>("SELECT latency_ms FROM requests WHERE batch_seq = ? AND state = 'succeeded' ORDER BY latency_ms LIMIT 1 OFFSET ?")
            .pluck()
            .get(batchSeq, Math.max(0, Math.ceil(0.95 * n) - 1)) ?? null)
    return { n, meanLatency: agg?.mean ?? null, p95Latency: p95, outputTokens: agg?.tokens ?? 0 }
  }
}
