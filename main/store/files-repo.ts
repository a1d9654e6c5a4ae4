import type { Database, Statement } from 'better-sqlite3'
import { StatementCache } from './statements'

export interface FileRow {
  id: string
  filename: string
  purpose: string
  bytes: number
  line_count: number
  created_at: number
  expires_at: number | null
}

export interface FileListQuery {
  purpose?: string
  limit: number
  order: 'asc' | 'desc'
  /** Cursor: the id of the last file of the previous page. */
  after?: string
}

const COLUMNS = 'id, filename, purpose, bytes, line_count, created_at, expires_at'

export class FilesRepo {
  private readonly insertStmt: Statement
  private readonly getStmt: Statement<[string], FileRow>
  private readonly seqStmt: Statement<[string], { seq: number }>
  private readonly deleteStmt: Statement<[string]>
  private readonly expiredStmt: Statement<[number], { id: string }>
  private readonly totalStmt: Statement<[], { total: number }>
  private readonly allIdsStmt: Statement<[], { id: string }>
  private readonly statements: StatementCache

  constructor(db: Database) {
    this.statements = new StatementCache(db)
    this.insertStmt = db.prepare(
      `INSERT INTO files (${COLUMNS}) VALUES (@id, @filename, @purpose, @bytes, @line_count, @created_at, @expires_at)`,
    )
    this.getStmt = db.prepare(`SELECT ${COLUMNS} FROM files WHERE id = ?`)
    this.seqStmt = db.prepare('SELECT seq FROM files WHERE id = ?')
    this.deleteStmt = db.prepare('DELETE FROM files WHERE id = ?')
    this.expiredStmt = db.prepare('SELECT id FROM files WHERE expires_at IS NOT NULL AND expires_at <= ?')
    this.totalStmt = db.prepare('SELECT COALESCE(SUM(bytes), 0) AS total FROM files')
    this.allIdsStmt = db.prepare('SELECT id FROM files')
  }

  insert(row: FileRow): void {
    this.insertStmt.run(row)
  }

  get(id: string): FileRow | undefined {
    return this.getStmt.get(id)
  }

  /** A page of files and whether more follow. An unknown `after` cursor gives undefined. */
  list(q: FileListQuery): { rows: FileRow[]; hasMore: boolean } | undefined {
    const where: string[] = []
    const params: (string | number)[] = []
    if (q.purpose) {
      where.push('purpose = ?')
      params.push(q.purpose)
    }
    if (q.after) {
      const cursor = this.seqStmt.get(q.after)
      if (!cursor) return undefined
      where.push(q.order === 'desc' ? 'seq < ?' : 'seq > ?')
      params.push(cursor.seq)
    }
    const sql =
      `SELECT ${COLUMNS} FROM files ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ` +
      `ORDER BY seq ${q.order === 'desc' ? 'DESC' : 'ASC'} LIMIT ?`
    const rows = this.statements.get<(string | number)[], FileRow>(sql).all(...params, q.limit + 1)
    return { rows: rows.slice(0, q.limit), hasMore: rows.length > q.limit }
  }

  delete(id: string): boolean {
    return this.deleteStmt.run(id).changes > 0
  }

  expiredIds(now: number): string[] {
    return this.expiredStmt.all(now).map((r) => r.id)
  }

  /** Bytes of all stored files together. */
  totalBytes(): number {
    return this.totalStmt.get()!.total
  }

  allIds(): Set<string> {
    return new Set(this.allIdsStmt.all().map((r) => r.id))
  }
}
