import type { Migration } from './index'

/**
 * Why a job waits, typed (`{kind, detail, since}` as JSON) instead of a sentence in `status_detail`, which now
 * only says what a status is busy with. A hold written by an older version (`waiting` in the progress) is dropped: the scheduler sets the
 * hold again as soon as it looks at the job.
 */
export const migration0004: Migration = {
  version: 4,
  name: 'hold',
  up: (db) => {
    db.exec('ALTER TABLE batches ADD COLUMN hold TEXT')
    db.exec("UPDATE batches SET status_detail = NULL WHERE status <> 'finalizing'")
    db.exec("UPDATE batches SET progress = json_remove(json_set(progress, '$.hold', json('null')), '$.waiting') WHERE progress IS NOT NULL")
  },
}
