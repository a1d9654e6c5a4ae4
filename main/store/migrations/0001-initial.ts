import type { Migration } from './index'

/** Files, batches, one row per input request, results and dead letters. */
export const migration0001: Migration = {
  version: 1,
  name: 'initial',
  up: (db) => {
    db.exec(`
      CREATE TABLE files (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        id          TEXT NOT NULL UNIQUE,
        filename    TEXT NOT NULL,
        purpose     TEXT NOT NULL,
        bytes       INTEGER NOT NULL,
        line_count  INTEGER NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER
      );
      CREATE INDEX files_purpose ON files (purpose, seq);

      CREATE TABLE batches (
        seq               INTEGER PRIMARY KEY AUTOINCREMENT,
        id                TEXT NOT NULL UNIQUE,
        endpoint          TEXT NOT NULL,
        input_file_id     TEXT NOT NULL,
        completion_window TEXT NOT NULL,
        status            TEXT NOT NULL,
        model             TEXT,
        errors            TEXT,
        output_file_id    TEXT,
        error_file_id     TEXT,
        created_at        INTEGER NOT NULL,
        in_progress_at    INTEGER,
        expires_at        INTEGER NOT NULL,
        finalizing_at     INTEGER,
        completed_at      INTEGER,
        failed_at         INTEGER,
        expired_at        INTEGER,
        cancelling_at     INTEGER,
        cancelled_at      INTEGER,
        total             INTEGER NOT NULL DEFAULT 0,
        completed         INTEGER NOT NULL DEFAULT 0,
        failed            INTEGER NOT NULL DEFAULT 0,
        input_tokens      INTEGER NOT NULL DEFAULT 0,
        cached_tokens     INTEGER NOT NULL DEFAULT 0,
        output_tokens     INTEGER NOT NULL DEFAULT 0,
        reasoning_tokens  INTEGER NOT NULL DEFAULT 0,
        metadata          TEXT,
        output_expires_after INTEGER,
        status_detail     TEXT
      );
      CREATE INDEX batches_status ON batches (status, seq);
      CREATE INDEX batches_input_file ON batches (input_file_id);

      -- One row per request line of a batch's input file: where to read it and how far it got. Keyed by the
      -- batch's integer seq rather than its text id: 200,000 rows are written per batch, and the key is
      -- repeated in every index.
      CREATE TABLE requests (
        batch_seq  INTEGER NOT NULL,
        line       INTEGER NOT NULL,
        custom_id  TEXT NOT NULL,
        offset     INTEGER NOT NULL,
        length     INTEGER NOT NULL,
        state      TEXT NOT NULL DEFAULT 'pending',
        attempts   INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (batch_seq, line)
      ) WITHOUT ROWID;
      -- The store itself guarantees that a batch never holds a custom_id twice.
      CREATE UNIQUE INDEX requests_custom_id ON requests (batch_seq, custom_id);

      CREATE TABLE results (
        batch_seq     INTEGER NOT NULL,
        line          INTEGER NOT NULL,
        status_code   INTEGER,
        request_id    TEXT,
        body          TEXT,
        error_code    TEXT,
        error_message TEXT,
        input_tokens  INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        started_at    INTEGER,
        finished_at   INTEGER NOT NULL,
        PRIMARY KEY (batch_seq, line)
      ) WITHOUT ROWID;

      -- Requests that failed for good, kept so they can be inspected and retried.
      CREATE TABLE dead_letters (
        batch_seq  INTEGER NOT NULL,
        line       INTEGER NOT NULL,
        custom_id  TEXT NOT NULL,
        error_type TEXT NOT NULL,
        message    TEXT NOT NULL,
        attempts   INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (batch_seq, line)
      ) WITHOUT ROWID;
    `)
  },
}
