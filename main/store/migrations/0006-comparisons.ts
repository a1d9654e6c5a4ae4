import type { Migration } from './index'

/**
 * A/B comparisons: one file run on several models (or batches that existed), the batches that make it, and a
 * person's votes on its rows (by custom_id).
 */
export const migration0006: Migration = {
  version: 6,
  name: 'comparisons',
  up: (db) => {
    db.exec(`
      CREATE TABLE comparisons (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        id            TEXT NOT NULL UNIQUE,
        name          TEXT,
        input_file_id TEXT,
        created_at    INTEGER NOT NULL
      );
      CREATE TABLE comparison_batches (
        comparison_seq INTEGER NOT NULL,
        position       INTEGER NOT NULL,
        batch_id       TEXT NOT NULL,
        model          TEXT NOT NULL,
        PRIMARY KEY (comparison_seq, position)
      ) WITHOUT ROWID;
      CREATE INDEX comparison_batches_batch ON comparison_batches (batch_id);
      CREATE TABLE comparison_votes (
        comparison_seq INTEGER NOT NULL,
        custom_id      TEXT NOT NULL,
        winner         TEXT NOT NULL,
        note           TEXT,
        updated_at     INTEGER NOT NULL,
        PRIMARY KEY (comparison_seq, custom_id)
      ) WITHOUT ROWID;
    `)
  },
}
