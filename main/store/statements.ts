import type { Database, Statement } from 'better-sqlite3'

/**
 * Statements prepared once and reused (as Signal Desktop's `prepare` cache does): for the SQL a repository
 * builds from a finite set of shapes (a list's filters, an update's columns), keyed by the SQL text.
 */
export class StatementCache {
  private readonly cache = new Map<string, Statement>()

  constructor(private readonly db: Database) {}

  get<P extends unknown[] | object = unknown[], R = unknown>(sql: string): Statement<P, R> {
    let stmt = this.cache.get(sql)
    if (!stmt) {
      stmt = this.db.prepare(sql)
      this.cache.set(sql, stmt)
    }
    return stmt as Statement<P, R>
  }
}
