import path from 'node:path'
import type { Database } from 'better-sqlite3'
import { BULK_CHECKPOINT_PAGES, openDatabase } from './database'
import { FilesRepo } from './files-repo'
import { BatchesRepo } from './batches-repo'
import { RequestsRepo } from './requests-repo'
import { ResultsRepo } from './results-repo'
import { ResultsQuery } from './results-query'
import { ComparisonsRepo } from './comparisons-repo'
import { WebhooksRepo } from './webhooks-repo'

/** The service's durable state: one SQLite database in the data dir and a repository per table group. */
export interface Store {
  db: Database
  files: FilesRepo
  batches: BatchesRepo
  requests: RequestsRepo
  results: ResultsRepo
  /** The results viewer's reads (pages, search, one request). */
  resultsQuery: ResultsQuery
  comparisons: ComparisonsRepo
  webhooks: WebhooksRepo
  /**
   * Runs a bulk write made of many transactions (a batch's index: 200,000 rows) with SQLite's automatic
   * checkpoints held off until it ends: each checkpoint syncs the disk, and a dozen of them took a fifth of a
   * validation's time. The WAL grows by what the write adds and is checkpointed as usual afterwards.
   */
  bulkWrite<T>(write: () => Promise<T>): Promise<T>
  close(): void
}


export function databasePath(dataDir: string): string {
  return path.join(dataDir, 'vbs.sqlite')
}

export function openStore(dataDir: string): Store {
  const db = openDatabase(databasePath(dataDir))
  const batches = new BatchesRepo(db)
  let bulk = 0
  const normalCheckpoint = db.pragma('wal_autocheckpoint', { simple: true }) as number
  return {
    db,
    files: new FilesRepo(db),
    batches,
    requests: new RequestsRepo(db, batches),
    results: new ResultsRepo(db),
    resultsQuery: new ResultsQuery(db),
    comparisons: new ComparisonsRepo(db),
    webhooks: new WebhooksRepo(db),
    bulkWrite: async (write) => {
      if (bulk++ === 0) db.pragma(`wal_autocheckpoint = ${BULK_CHECKPOINT_PAGES}`)
      try {
        return await write()
      } finally {
        if (--bulk === 0 && db.open) db.pragma(`wal_autocheckpoint = ${normalCheckpoint}`)
      }
    },
    close: () => db.close(),
  }
}
