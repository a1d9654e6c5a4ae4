import type { Migration } from './index'

/** Live progress of a running batch (chunk, rates, ETA, why it waits), kept on the job so a restart shows it. */
export const migration0002: Migration = {
  version: 2,
  name: 'progress',
  up: (db) => {
    db.exec('ALTER TABLE batches ADD COLUMN progress TEXT')
  },
}
