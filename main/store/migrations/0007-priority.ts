import type { Migration } from './index'

/**
 * A batch's priority (`high`, `normal`, `low`): from `metadata.priority` when it is created, changed from the
 * dashboard (`PUT /api/batches/{id}/priority`). Batches stored before it are `normal`, except those whose
 * metadata already asked for another priority.
 */
export const migration0007: Migration = {
  version: 7,
  name: 'priority',
  up: (db) => {
    db.exec("ALTER TABLE batches ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal'")
    db.exec(`
      UPDATE batches SET priority = json_extract(metadata, '$.priority')
      WHERE metadata IS NOT NULL AND json_valid(metadata) AND json_extract(metadata, '$.priority') IN ('high', 'low')
    `)
  },
}
