import path from 'node:path'
import type { Database } from 'better-sqlite3'
import { openDatabase } from './database'
import { FilesRepo } from './files-repo'
import { BatchesRepo } from './batches-repo'
import { RequestsRepo } from './requests-repo'
import { ResultsRepo } from './results-repo'
import { ResultsQuery } from './results-query'

/** The service's durable state: one SQLite database in the data dir and a repository per table group. */
export interface Store {
  db: Database
  files: FilesRepo
  batches: BatchesRepo
  requests: RequestsRepo
  results: ResultsRepo
  /** The results viewer's reads (pages, search, one request). */
  resultsQuery: ResultsQuery
  close(): void
}

export function databasePath(dataDir: string): string {
  return path.join(dataDir, 'vbs.sqlite')
}

export function openStore(dataDir: string): Store {
  const db = openDatabase(databasePath(dataDir))
  const batches = new BatchesRepo(db)
  return {
    db,
    files: new FilesRepo(db),
    batches,
    requests: new RequestsRepo(db, batches),
    results: new ResultsRepo(db),
    resultsQuery: new ResultsQuery(db),
    close: () => db.close(),
  }
}
