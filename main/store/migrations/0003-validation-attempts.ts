import type { Migration } from './index'

/**
 * How many times a batch's validation has started without ending (counted before it starts, given back when a
 * clean stop interrupts it): a batch whose validation took the service down twice is failed, not validated again.
 */
export const migration0003: Migration = {
  version: 3,
  name: 'validation-attempts',
  up: (db) => {
    db.exec('ALTER TABLE batches ADD COLUMN validation_attempts INTEGER NOT NULL DEFAULT 0')
  },
}
